//! The MNIST test set in its published IDX format (gzip).

use std::io::Read;
use std::path::Path;

use super::NnError;

/// Test images as pixel/255 (the checkpoint's training normalisation) and their labels.
#[derive(Clone, Debug)]
pub struct Mnist {
    pub images: Vec<Vec<f64>>,
    pub labels: Vec<u8>,
}

fn read_gz(path: &Path) -> Result<Vec<u8>, NnError> {
    let io = |e: std::io::Error| NnError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut out)
        .map_err(io)?;
    Ok(out)
}

fn be32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

impl Mnist {
    /// Reads up to `limit` test images starting at image `offset` from `dir`
    /// (`t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`); an offset past the end
    /// yields no images.
    pub fn load_test(dir: &Path, offset: usize, limit: usize) -> Result<Self, NnError> {
        let ipath = dir.join("t10k-images-idx3-ubyte.gz");
        let lpath = dir.join("t10k-labels-idx1-ubyte.gz");
        let img = read_gz(&ipath)?;
        let lab = read_gz(&lpath)?;
        let bad = |path: &Path, message: &str| NnError::Io {
            path: path.to_path_buf(),
            message: message.to_owned(),
        };
        if img.len() < 16 || be32(&img, 0) != 0x0803 {
            return Err(bad(&ipath, "not an IDX3 image file (magic 0x00000803)"));
        }
        if lab.len() < 8 || be32(&lab, 0) != 0x0801 {
            return Err(bad(&lpath, "not an IDX1 label file (magic 0x00000801)"));
        }
        let (n, rows, cols) = (be32(&img, 4), be32(&img, 8), be32(&img, 12));
        if img.len() != 16 + n * rows * cols || lab.len() != 8 + be32(&lab, 4) || be32(&lab, 4) != n
        {
            return Err(bad(&ipath, "image and label files disagree in size"));
        }
        let range = offset.min(n)..offset.saturating_add(limit).min(n);
        let px = rows * cols;
        let images = range
            .clone()
            .map(|i| {
                img[16 + i * px..16 + (i + 1) * px]
                    .iter()
                    .map(|&p| f64::from(p) / 255.0)
                    .collect()
            })
            .collect();
        Ok(Self {
            images,
            labels: lab[8 + range.start..8 + range.end].to_vec(),
        })
    }
}
