//! Building this crate for `bpf*-unknown-none` needs the `bpf-linker` binary,
//! an undeclared dependency: rebuild when it changes, and say clearly when it
//! is missing. Host builds (as a build-dependency of `dnsd`) do not need it.
use which::which;

fn main() {
    println!("cargo:rerun-if-env-changed=PATH");
    let target = std::env::var("TARGET").unwrap_or_default();
    match which("bpf-linker") {
        Ok(path) => println!("cargo:rerun-if-changed={}", path.display()),
        Err(err) if target.starts_with("bpf") => {
            eprintln!(
                "error: bpf-linker not found on PATH ({err}); it links the XDP program.\n\
                 Run `cargo xtask setup` (or `cargo xtask build-ebpf` / `cargo xtask test`), \
                 which installs bpf-linker 0.13.0 built against LLVM 22."
            );
            std::process::exit(1);
        }
        Err(_) => {}
    }
}
