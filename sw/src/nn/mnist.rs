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

/// Most bytes an IDX file may inflate to (the MNIST test images are 7.8 MB, the training images
/// 47 MB): a gzip bomb is cut off here instead of filling memory.
pub const MAX_IDX_BYTES: u64 = 64 << 20;

/// Inflates a gzip file, checking its magic bytes first and stopping past `cap` bytes.
fn read_gz(path: &Path, cap: u64) -> Result<Vec<u8>, NnError> {
    let bytes = std::fs::read(path).map_err(|e| NnError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    inflate(&bytes, cap).map_err(|message| NnError::Io {
        path: path.to_path_buf(),
        message,
    })
}

/// Inflates gzip `bytes`, checking the magic bytes before inflating anything and stopping
/// past `cap` bytes of output (a gzip bomb is cut off, not inflated).
fn inflate(bytes: &[u8], cap: u64) -> Result<Vec<u8>, String> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(
            "not a gzip file (it must start with the bytes 1f 8b); download the \
                    original MNIST .gz file"
                .into(),
        );
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > cap {
        return Err(format!(
            "inflates to more than {cap} bytes, far more than an MNIST IDX file; it is not one"
        ));
    }
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
        let img = read_gz(&ipath, MAX_IDX_BYTES)?;
        let lab = read_gz(&lpath, MAX_IDX_BYTES)?;
        Self::from_idx(&img, &lab, offset, limit).map_err(|(images, message)| NnError::Io {
            path: if images { ipath } else { lpath },
            message,
        })
    }

    /// [`Mnist::load_test`] on the gzip bytes of both files (a fuzzing entry point).
    pub fn from_gz_bytes(
        images: &[u8],
        labels: &[u8],
        offset: usize,
        limit: usize,
    ) -> Result<Self, String> {
        let img = inflate(images, MAX_IDX_BYTES)?;
        let lab = inflate(labels, MAX_IDX_BYTES)?;
        Self::from_idx_bytes(&img, &lab, offset, limit)
    }

    /// [`Mnist::load_test`] on the inflated IDX bytes of both files (a fuzzing entry point).
    pub fn from_idx_bytes(
        images: &[u8],
        labels: &[u8],
        offset: usize,
        limit: usize,
    ) -> Result<Self, String> {
        Self::from_idx(images, labels, offset, limit).map_err(|(_, message)| message)
    }

    /// Parses inflated IDX3 images and IDX1 labels; an error says whether the images (`true`)
    /// or the labels are at fault.
    fn from_idx(
        img: &[u8],
        lab: &[u8],
        offset: usize,
        limit: usize,
    ) -> Result<Self, (bool, String)> {
        if img.len() < 16 || be32(img, 0) != 0x0803 {
            return Err((true, "not an IDX3 image file (magic 0x00000803)".into()));
        }
        if lab.len() < 8 || be32(lab, 0) != 0x0801 {
            return Err((false, "not an IDX1 label file (magic 0x00000801)".into()));
        }
        let (n, rows, cols) = (be32(img, 4), be32(img, 8), be32(img, 12));
        let image_bytes = n
            .checked_mul(rows)
            .and_then(|v| v.checked_mul(cols))
            .and_then(|v| v.checked_add(16));
        if image_bytes != Some(img.len()) {
            return Err((
                true,
                format!(
                    "the header announces {n} images of {rows}×{cols} pixels but the file \
                     holds {} bytes of pixels; it is truncated or not an MNIST file",
                    img.len() - 16
                ),
            ));
        }
        if lab.len() != 8 + be32(lab, 4) || be32(lab, 4) != n {
            return Err((false, "image and label files disagree in size".into()));
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// A gzip bomb stops at the cap (the whole stream is never inflated) and a file without
    /// the gzip magic is refused before any inflation.
    #[test]
    fn inflation_is_capped_and_the_magic_checked_first() {
        let dir = tempfile::tempdir().unwrap();
        let bomb = dir.path().join("bomb.gz");
        std::fs::write(&bomb, gz(&vec![0u8; 1 << 20])).unwrap();
        let err = read_gz(&bomb, 4096).unwrap_err().to_string();
        assert!(err.contains("inflates to more than 4096 bytes"), "{err}");
        assert_eq!(read_gz(&bomb, 1 << 20).unwrap().len(), 1 << 20);
        let plain = dir.path().join("plain.gz");
        std::fs::write(&plain, b"\x00\x00\x08\x03 raw IDX").unwrap();
        let err = read_gz(&plain, 4096).unwrap_err().to_string();
        assert!(err.contains("not a gzip file"), "{err}");
    }

    /// Header dimensions whose product overflows are a size mismatch, not a panic.
    #[test]
    fn overflowing_dimensions_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut img = vec![0, 0, 8, 3];
        for d in [u32::MAX, u32::MAX, 16] {
            img.extend(d.to_be_bytes());
        }
        let mut lab = vec![0, 0, 8, 1];
        lab.extend(u32::MAX.to_be_bytes());
        std::fs::write(dir.path().join("t10k-images-idx3-ubyte.gz"), gz(&img)).unwrap();
        std::fs::write(dir.path().join("t10k-labels-idx1-ubyte.gz"), gz(&lab)).unwrap();
        let err = Mnist::load_test(dir.path(), 0, 1).unwrap_err().to_string();
        assert!(err.contains("the header announces"), "{err}");
    }
}
