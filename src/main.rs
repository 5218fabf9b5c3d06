fn main() {
    let code = hpc_kernels::cli::main();
    std::process::exit(code);
}
