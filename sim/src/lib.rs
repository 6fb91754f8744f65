//! hesim's cycle-approximate HE accelerator model: architecture presets, op lowering, timing.
