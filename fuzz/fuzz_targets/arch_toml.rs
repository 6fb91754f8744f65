#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hesim_fuzz::targets::arch_toml(data));
