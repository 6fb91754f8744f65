//! hesim's software stack: the golden modular/NTT/RNS arithmetic (`ring`), a real RNS-CKKS
//! (`ckks`), CNN-to-HE-program compilation (`nn`, `slots`) and the accelerator benchmark
//! workloads as traces (`workloads`).

pub mod boot;
pub mod ckks;
pub mod nn;
pub mod ring;
pub mod slots;
pub mod workloads;
