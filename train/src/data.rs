//! MNIST as training data: the 60,000 training images when their files are present, otherwise
//! the two halves of the 10,000-image test set.

use std::path::Path;

use candle_core::{Device, Tensor};
use hesim_sw::nn::mnist::Mnist;

use super::TrainError;

/// Pixels per MNIST image.
const PIXELS: usize = 28 * 28;

/// Without training files, test images `0..MNIST_TEST_HALF` train and the rest evaluate.
pub const MNIST_TEST_HALF: usize = 5_000;

/// Images read per call of the IDX parser, so that 60,000 images never sit in memory as `f64`.
const CHUNK: usize = 10_000;

/// Images as pixel/255 in `f32` (the checkpoint's normalisation) and their labels.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    pub images: Vec<f32>,
    pub labels: Vec<u32>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The images `indices` as a batch-last `[1, 28, 28, n]` tensor (the model's layout) and
    /// their labels as `[n]`.
    pub fn batch(&self, indices: &[usize]) -> candle_core::Result<(Tensor, Tensor)> {
        let n = indices.len();
        let mut pixels = vec![0f32; n * PIXELS];
        for (b, &i) in indices.iter().enumerate() {
            for (p, &v) in self.images[i * PIXELS..(i + 1) * PIXELS].iter().enumerate() {
                pixels[p * n + b] = v;
            }
        }
        let labels: Vec<u32> = indices.iter().map(|&i| self.labels[i]).collect();
        Ok((
            Tensor::from_vec(pixels, (1, 28, 28, n), &Device::Cpu)?,
            Tensor::from_vec(labels, indices.len(), &Device::Cpu)?,
        ))
    }

    /// Reads images `range` of one IDX pair (gzip), [`CHUNK`] images at a time.
    fn read(
        images: &Path,
        labels: &Path,
        range: std::ops::Range<usize>,
    ) -> Result<Self, TrainError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| TrainError::Data {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        };
        let (image_bytes, label_bytes) = (read(images)?, read(labels)?);
        let mut set = Dataset::default();
        let mut at = range.start;
        while at < range.end {
            let take = CHUNK.min(range.end - at);
            let chunk =
                Mnist::from_gz_bytes(&image_bytes, &label_bytes, at, take).map_err(|message| {
                    TrainError::Data {
                        path: images.to_path_buf(),
                        message,
                    }
                })?;
            if chunk.images.is_empty() {
                break;
            }
            for image in &chunk.images {
                set.images.extend(image.iter().map(|&p| p as f32));
            }
            set.labels
                .extend(chunk.labels.iter().map(|&l| u32::from(l)));
            at += take;
        }
        Ok(set)
    }
}

/// Which images train and which evaluate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitKind {
    /// The 60,000 training images train; the 10,000 test images evaluate.
    Full,
    /// No training files: test images 0–4,999 train, 5,000–9,999 evaluate.
    TestHalves,
}

/// Training and evaluation images, and a sentence saying which they are.
#[derive(Clone, Debug)]
pub struct MnistSplit {
    pub train: Dataset,
    pub eval: Dataset,
    pub kind: SplitKind,
    /// Index of the first evaluation image in the MNIST test set.
    pub eval_offset: usize,
    pub description: String,
}

/// Loads the split from `dir` (the data root's `data/mnist`): [`SplitKind::Full`] when both
/// `train-images-idx3-ubyte.gz` and `train-labels-idx1-ubyte.gz` are there, otherwise
/// [`SplitKind::TestHalves`]. `train_limit` / `eval_limit` keep only the first images of each
/// part (for quick runs and tests).
pub fn load_mnist(
    dir: &Path,
    train_limit: Option<usize>,
    eval_limit: Option<usize>,
) -> Result<MnistSplit, TrainError> {
    let file = |name: &str| dir.join(name);
    let (test_images, test_labels) = (
        file("t10k-images-idx3-ubyte.gz"),
        file("t10k-labels-idx1-ubyte.gz"),
    );
    let (train_images, train_labels) = (
        file("train-images-idx3-ubyte.gz"),
        file("train-labels-idx1-ubyte.gz"),
    );
    if train_images.exists() != train_labels.exists() {
        let missing = if train_images.exists() {
            &train_labels
        } else {
            &train_images
        };
        return Err(TrainError::Data {
            path: missing.clone(),
            message: "the other MNIST training file is present but this one is missing; add it \
                      or remove both to fine-tune on the test-set halves"
                .into(),
        });
    }
    let limit = |n: usize, l: Option<usize>| l.map_or(n, |l| l.min(n));
    let (train, eval, kind, eval_offset) = if train_images.exists() {
        let train = Dataset::read(&train_images, &train_labels, 0..limit(60_000, train_limit))?;
        let eval = Dataset::read(&test_images, &test_labels, 0..limit(10_000, eval_limit))?;
        (train, eval, SplitKind::Full, 0)
    } else {
        let train = Dataset::read(
            &test_images,
            &test_labels,
            0..limit(MNIST_TEST_HALF, train_limit),
        )?;
        let eval = Dataset::read(
            &test_images,
            &test_labels,
            MNIST_TEST_HALF..MNIST_TEST_HALF + limit(10_000 - MNIST_TEST_HALF, eval_limit),
        )?;
        (train, eval, SplitKind::TestHalves, MNIST_TEST_HALF)
    };
    if train.is_empty() || eval.is_empty() {
        return Err(TrainError::Data {
            path: test_images,
            message: format!(
                "found {} training and {} evaluation images; both must be non-empty",
                train.len(),
                eval.len()
            ),
        });
    }
    let description = match kind {
        SplitKind::Full => format!(
            "fine-tuned on {} MNIST training images, evaluated on MNIST test images 0–{}",
            train.len(),
            eval.len() - 1
        ),
        SplitKind::TestHalves => format!(
            "no MNIST training files in {}: fine-tuned on MNIST test images 0–{}, evaluated on \
             test images {}–{}",
            dir.display(),
            train.len() - 1,
            eval_offset,
            eval_offset + eval.len() - 1
        ),
    };
    Ok(MnistSplit {
        train,
        eval,
        kind,
        eval_offset,
        description,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    /// Writes `n` IDX images (every pixel of image `i` = `i mod 256`) and labels `i mod 10` as
    /// gzip files `{prefix}-images-idx3-ubyte.gz` / `{prefix}-labels-idx1-ubyte.gz`.
    fn write_idx(dir: &Path, prefix: &str, n: usize) {
        let gz = |bytes: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(bytes).unwrap();
            e.finish().unwrap()
        };
        let mut images = vec![0, 0, 8, 3];
        for d in [n as u32, 28, 28] {
            images.extend(d.to_be_bytes());
        }
        for i in 0..n {
            images.extend(std::iter::repeat_n((i % 256) as u8, PIXELS));
        }
        let mut labels = vec![0, 0, 8, 1];
        labels.extend((n as u32).to_be_bytes());
        labels.extend((0..n).map(|i| (i % 10) as u8));
        std::fs::write(
            dir.join(format!("{prefix}-images-idx3-ubyte.gz")),
            gz(&images),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{prefix}-labels-idx1-ubyte.gz")),
            gz(&labels),
        )
        .unwrap();
    }

    /// Image `i` of a set written by [`write_idx`] has pixel value `(i mod 256)/255`.
    fn first_pixel(set: &Dataset, at: usize) -> f32 {
        set.images[at * PIXELS]
    }

    #[test]
    fn the_split_follows_the_files_present() {
        let dir = tempfile::tempdir().unwrap();
        write_idx(dir.path(), "t10k", MNIST_TEST_HALF + 12);

        let halves = load_mnist(dir.path(), None, None).unwrap();
        assert_eq!(halves.kind, SplitKind::TestHalves);
        assert_eq!(
            (halves.train.len(), halves.eval.len()),
            (MNIST_TEST_HALF, 12)
        );
        assert_eq!(halves.eval_offset, MNIST_TEST_HALF);
        assert_eq!(halves.eval.labels[0], (MNIST_TEST_HALF % 10) as u32);
        assert_eq!(
            first_pixel(&halves.eval, 3),
            ((MNIST_TEST_HALF + 3) % 256) as f32 / 255.0
        );
        assert!(
            halves.description.contains("test images 0–4999"),
            "{}",
            halves.description
        );
        assert!(
            halves.description.contains("5000–5011"),
            "{}",
            halves.description
        );

        let limited = load_mnist(dir.path(), Some(30), Some(5)).unwrap();
        assert_eq!((limited.train.len(), limited.eval.len()), (30, 5));

        write_idx(dir.path(), "train", 40);
        let full = load_mnist(dir.path(), None, Some(7)).unwrap();
        assert_eq!(full.kind, SplitKind::Full);
        assert_eq!(
            (full.train.len(), full.eval.len(), full.eval_offset),
            (40, 7, 0)
        );
        assert_eq!(first_pixel(&full.train, 39), 39.0 / 255.0);

        std::fs::remove_file(dir.path().join("train-labels-idx1-ubyte.gz")).unwrap();
        let err = load_mnist(dir.path(), None, None).unwrap_err().to_string();
        assert!(
            err.contains("train-labels-idx1-ubyte.gz") && err.contains("missing"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_or_too_small_test_set_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_mnist(dir.path(), None, None).unwrap_err().to_string();
        assert!(err.contains("t10k-images-idx3-ubyte.gz"), "{err}");
        write_idx(dir.path(), "t10k", 100);
        let err = load_mnist(dir.path(), None, None).unwrap_err().to_string();
        assert!(
            err.contains("found 100 training and 0 evaluation images"),
            "{err}"
        );
    }
}
