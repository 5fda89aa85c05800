//! Puts the board's memory map where the linker looks for `memory.x` (cortex-m-rt's `link.x`
//! includes it): the micro:bit's for thumbv6m, the LM3S6965's otherwise. Neither file is named
//! `memory.x` itself: the linker would find that one in the package root first.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let memory: &[u8] = match env::var("TARGET").as_deref() {
        Ok("thumbv6m-none-eabi") => include_bytes!("memory-microbit.x"),
        _ => include_bytes!("memory-lm3s6965.x"),
    };
    fs::write(out.join("memory.x"), memory).expect("OUT_DIR is writable");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory-lm3s6965.x");
    println!("cargo:rerun-if-changed=memory-microbit.x");
    println!("cargo:rerun-if-changed=build.rs");
}
