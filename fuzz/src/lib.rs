//! hesim's fuzz targets (see `README.md`); the bodies live in `targets.rs`, which the stable
//! test suite also includes to replay the committed corpus.

pub mod targets;
