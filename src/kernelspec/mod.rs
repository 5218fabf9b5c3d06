//! Kernelspec generation and atomic install.
