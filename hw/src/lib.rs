//! hesim's hardware: rust_hdl NTT butterfly, Verilog emission, co-simulation, yosys area.
