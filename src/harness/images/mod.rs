//! Partition images: base rootfs + Lmod module trees, content-hash cached.
