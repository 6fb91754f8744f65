//! hesim's software stack: the golden modular/NTT/RNS arithmetic (`ring`), a real RNS-CKKS
//! (`ckks`), and CNN-to-HE-program compilation (`nn`, `slots`).

pub mod boot;
pub mod ckks;
pub mod nn;
pub mod ring;
pub mod slots;
