//! Fine-tuning of hesim's CNNs under fixed SpENCNN sub-block masks, on the CPU with candle.
//!
//! The masks come from hesim-sw's program builder ([`Packing::Spencnn`]), the one definition of
//! a sub-block. The weights it prunes are zeroed, and their gradients are zeroed at every step,
//! so they stay exactly zero while the rest of the network (quadratic activations included)
//! adapts. Parameters are read through hesim-sw's safetensors loader and written back under the
//! same keys, so `hesim infer --weights FILE` reads the result.
//!
//! candle (not burn) because it is the lighter of the two on the CPU: `candle-core` and
//! `candle-nn` without features add about 30 crates and no build scripts that fetch anything.

mod data;
mod model;

use std::path::PathBuf;
use std::time::Instant;

use candle_nn::Optimizer as _;
use hesim_sw::nn::{self, HeParams, Network, NnError, Packing, Params, PruneMasks};
use rand::SeedableRng as _;
use rand::seq::SliceRandom as _;

pub use data::{Dataset, MNIST_TEST_HALF, MnistSplit, SplitKind, load_mnist};
pub use model::{Model, check_network};

/// Errors of fine-tuning: bad networks, data or options, and failures inside candle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    #[error(transparent)]
    Nn(#[from] NnError),
    #[error("cannot read {path}: {message}")]
    Data { path: PathBuf, message: String },
    #[error(
        "network `{network}` has no trainable layer (conv or linear): there is nothing to \
         fine-tune"
    )]
    NothingToTrain { network: String },
    #[error(
        "layer `{layer}` is {kind}: fine-tuning supports chains of conv, linear, average pooling, \
         flatten and activations of degree ≤ 2"
    )]
    UnsupportedLayer { layer: String, kind: String },
    #[error(
        "network `{network}` takes {input} inputs and gives {outputs} outputs; fine-tuning needs \
         an MNIST network (1×28×28 in, 10 classes out): VGG-5 and HEFNet are CIFAR-10 networks, \
         and CIFAR-10 is not in the data root"
    )]
    NoData {
        network: String,
        input: String,
        outputs: usize,
    },
    #[error("invalid option: {message}")]
    Option { message: String },
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

/// The weights sub-block pruning removes at `sparsity`: the masks hesim's `spencnn` packing
/// computes for these parameters under the default HE parameters (the ones `hesim infer` uses),
/// so the encrypted program of the fine-tuned model skips exactly these sub-blocks.
pub fn sub_block_masks(
    net: &Network,
    params: &Params,
    sparsity: f64,
) -> Result<PruneMasks, TrainError> {
    let packing = Packing::parse("spencnn", sparsity)?;
    Ok(nn::build(net, params, packing, &HeParams::default())?.pruned)
}

/// Optimiser settings of one fine-tuning run.
#[derive(Clone, Debug)]
pub struct FinetuneConfig {
    pub epochs: usize,
    pub batch: usize,
    /// Peak Adam learning rate; it decays to zero along a cosine over the run.
    pub learning_rate: f64,
    /// Seeds the order of the training images in every epoch (the only randomness).
    pub seed: u64,
}

impl FinetuneConfig {
    /// Checks the settings: at least one epoch, a non-empty batch, a positive learning rate.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |message: String| Err(TrainError::Option { message });
        if self.epochs == 0 {
            return bad("--epochs must be at least 1".into());
        }
        if self.batch == 0 {
            return bad("the batch size must be at least 1".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!(
                "learning rate {} must be a positive number",
                self.learning_rate
            ));
        }
        Ok(())
    }
}

/// What one epoch did.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochLog {
    /// 1-based.
    pub epoch: usize,
    /// Mean cross-entropy over the epoch's batches.
    pub loss: f64,
    /// Accuracy on the training images as they were seen during the epoch.
    pub train_accuracy: f64,
    /// Accuracy on the evaluation images after the epoch.
    pub eval_accuracy: f64,
    pub seconds: f64,
}

/// Progress reports for a progress bar and per-epoch log lines.
#[derive(Debug)]
pub enum Progress<'a> {
    /// `done` of `total` batches of epoch `epoch` (1-based) are finished.
    Batch {
        epoch: usize,
        done: usize,
        total: usize,
    },
    Epoch(&'a EpochLog),
}

/// Fine-tunes `model` on `data.train` (masks fixed), evaluating on `data.eval` after every
/// epoch. Adam without weight decay, so a pruned weight (zero, with zero gradient and hence zero
/// moments) receives an update of exactly zero.
pub fn finetune(
    model: &mut Model,
    data: &MnistSplit,
    config: &FinetuneConfig,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<Vec<EpochLog>, TrainError> {
    config.validate()?;
    let n = data.train.len();
    if n == 0 {
        return Err(TrainError::Option {
            message: "no training images".into(),
        });
    }
    let mut optimizer = candle_nn::AdamW::new(
        model.trainable(),
        candle_nn::ParamsAdamW {
            lr: config.learning_rate,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(config.seed);
    let batches = n.div_ceil(config.batch);
    let total_steps = (batches * config.epochs) as f64;
    let mut order: Vec<usize> = (0..n).collect();
    let mut logs = Vec::with_capacity(config.epochs);
    for epoch in 1..=config.epochs {
        let start = Instant::now();
        order.shuffle(&mut rng);
        let (mut loss_sum, mut correct) = (0.0, 0usize);
        for (b, chunk) in order.chunks(config.batch).enumerate() {
            let step = ((epoch - 1) * batches + b) as f64;
            optimizer.set_learning_rate(
                config.learning_rate
                    * 0.5
                    * (1.0 + (std::f64::consts::PI * step / total_steps).cos()),
            );
            let (x, y) = data.train.batch(chunk)?;
            let logits = model.forward(&x)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
            let mut grads = loss.backward()?;
            model.mask_gradients(&mut grads)?;
            optimizer.step(&grads)?;
            loss_sum += f64::from(loss.to_scalar::<f32>()?);
            correct += model::count_correct(&logits, &y)?;
            on_progress(Progress::Batch {
                epoch,
                done: b + 1,
                total: batches,
            });
        }
        let log = EpochLog {
            epoch,
            loss: loss_sum / batches as f64,
            train_accuracy: correct as f64 / n as f64,
            eval_accuracy: model.accuracy(&data.eval)?,
            seconds: start.elapsed().as_secs_f64(),
        };
        on_progress(Progress::Epoch(&log));
        logs.push(log);
    }
    Ok(logs)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use hesim_sw::nn::network::lenet;
    use hesim_sw::nn::weights::LayerParams;
    use hesim_sw::nn::{Layer, LayerKind, Shape, synthetic_input};

    use super::*;

    /// `n` deterministic synthetic images (uniform pixels) with labels `i mod 10`.
    fn synthetic(n: usize, first: u64) -> Dataset {
        let mut set = Dataset::default();
        for i in 0..n {
            let pixels = synthetic_input(28 * 28, first + i as u64);
            set.images.extend(pixels.iter().map(|&p| p as f32));
            set.labels.push((i % 10) as u32);
        }
        set
    }

    fn split(train: usize, eval: usize) -> MnistSplit {
        MnistSplit {
            train: synthetic(train, 0),
            eval: synthetic(eval, 10_000),
            kind: SplitKind::TestHalves,
            eval_offset: 0,
            description: "synthetic".into(),
        }
    }

    fn pruned_lenet(sparsity: f64) -> (Network, Params, PruneMasks) {
        let net = lenet();
        let params = Params::random(&net, 3).unwrap();
        let masks = sub_block_masks(&net, &params, sparsity).unwrap();
        (net, params, masks)
    }

    /// The claim of masked fine-tuning: after training steps, every weight the sub-block masks
    /// removed is still exactly 0.0, although its unmasked gradient is not zero (so it is the
    /// masking, not a vanishing gradient, that keeps it there) and the kept weights did move.
    #[test]
    fn pruned_weights_stay_exactly_zero() {
        let (net, params, masks) = pruned_lenet(0.5);
        let conv2 = net.layer_index("conv2").unwrap();
        let mask = &masks[&conv2];
        let pruned = mask.iter().filter(|&&p| p).count();
        assert!(
            pruned > mask.len() / 3 && pruned < mask.len(),
            "{pruned} of {} pruned",
            mask.len()
        );
        let mut model = Model::new(&net, &params, &masks).unwrap();
        let before = model.weight_values(conv2).unwrap();

        let data = split(64, 16);
        let (x, y) = data.train.batch(&(0..16).collect::<Vec<_>>()).unwrap();
        let loss = candle_nn::loss::cross_entropy(&model.forward(&x).unwrap(), &y).unwrap();
        let grads = loss.backward().unwrap();
        let raw = grads
            .get(model.weight(conv2).unwrap())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!(
            mask.iter().zip(&raw).any(|(&p, &g)| p && g != 0.0),
            "the pruned weights' raw gradients are all zero: the test would prove nothing"
        );

        let config = FinetuneConfig {
            epochs: 2,
            batch: 16,
            learning_rate: 1e-2,
            seed: 5,
        };
        finetune(&mut model, &data, &config, &mut |_| {}).unwrap();
        let after = model.weight_values(conv2).unwrap();
        for (i, (&p, &w)) in mask.iter().zip(&after).enumerate() {
            if p {
                assert_eq!(w.to_bits(), 0f32.to_bits(), "pruned weight {i} became {w}");
            }
        }
        let moved = mask
            .iter()
            .zip(before.iter().zip(&after))
            .filter(|(p, (b, a))| !**p && b != a)
            .count();
        assert!(
            moved > (mask.len() - pruned) / 2,
            "only {moved} kept weights moved"
        );
    }

    /// candle's model computes the same logits as hesim-sw's naive reference network (direct
    /// loops, independent of candle) on the same pruned parameters.
    #[test]
    fn candle_forward_matches_the_naive_reference() {
        let (net, params, masks) = pruned_lenet(0.25);
        let model = Model::new(&net, &params, &masks).unwrap();
        let data = synthetic(3, 77);
        let got = model.logits(&data).unwrap();
        for (i, row) in got.iter().enumerate() {
            let image: Vec<f64> = data.images[i * 784..(i + 1) * 784]
                .iter()
                .map(|&p| f64::from(p))
                .collect();
            let want = nn::forward(&net, &params, &masks, &image);
            let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            let err = nn::max_abs_error(row, &want);
            assert!(
                err < 1e-4 * scale,
                "image {i}: error {err}, logits {want:?}"
            );
        }
    }

    /// The written checkpoint is read back by hesim-sw's loader with the same values, and the
    /// `spencnn` packing prunes, from it, exactly the weights that were held at zero.
    #[test]
    fn checkpoint_round_trips_through_the_hesim_loader() {
        let (net, params, masks) = pruned_lenet(0.5);
        let mut model = Model::new(&net, &params, &masks).unwrap();
        let config = FinetuneConfig {
            epochs: 1,
            batch: 8,
            learning_rate: 1e-3,
            seed: 1,
        };
        finetune(&mut model, &split(16, 8), &config, &mut |_| {}).unwrap();
        let bytes = model.to_safetensors(HashMap::new()).unwrap();
        let back = Params::from_safetensors_bytes(&net, &bytes, "round trip").unwrap();
        for (li, layer) in back.layers.iter().enumerate() {
            match layer {
                LayerParams::Affine { .. } => {
                    let want = model.weight_values(li).unwrap();
                    let got = back.weight_values(li);
                    assert!(want.iter().zip(&got).all(|(&w, &g)| f64::from(w) == g));
                }
                LayerParams::Poly { coefficients } => {
                    let before = params.quadratic(li).unwrap().to_vec();
                    assert_ne!(*coefficients, before, "activation {li} did not train");
                }
                _ => {}
            }
        }
        assert_eq!(sub_block_masks(&net, &back, 0.5).unwrap(), masks);
    }

    fn network(layers: Vec<Layer>) -> Network {
        Network::new("test", Shape::new(1, 28, 28), layers).unwrap()
    }

    fn layer(name: &str, kind: LayerKind) -> Layer {
        Layer {
            name: name.into(),
            kind,
            input: None,
        }
    }

    #[test]
    fn networks_that_cannot_be_fine_tuned_are_refused() {
        let pools = network(vec![
            layer("pool", LayerKind::AvgPool { kernel: 2 }),
            layer("flat", LayerKind::Flatten),
        ]);
        let err = check_network(&pools).unwrap_err().to_string();
        assert!(err.contains("no trainable layer"), "{err}");

        let bn = network(vec![
            layer(
                "conv",
                LayerKind::Conv {
                    out: 2,
                    kernel: 3,
                    stride: 1,
                    pad: 1,
                    groups: 1,
                    bias: true,
                },
            ),
            layer("bn", LayerKind::BatchNorm { eps: 1e-5 }),
        ]);
        let err = check_network(&bn).unwrap_err().to_string();
        assert!(err.contains("layer `bn` is a batchnorm layer"), "{err}");

        let vgg = Network::builtin("vgg5").unwrap();
        let err = check_network(&vgg).unwrap_err().to_string();
        assert!(err.contains("takes 3×32×32 inputs"), "{err}");
    }

    #[test]
    fn bad_settings_are_refused() {
        let base = FinetuneConfig {
            epochs: 1,
            batch: 1,
            learning_rate: 1e-3,
            seed: 0,
        };
        for (bad, what) in [
            (
                FinetuneConfig {
                    epochs: 0,
                    ..base.clone()
                },
                "--epochs",
            ),
            (
                FinetuneConfig {
                    batch: 0,
                    ..base.clone()
                },
                "batch",
            ),
            (
                FinetuneConfig {
                    learning_rate: f64::NAN,
                    ..base.clone()
                },
                "learning rate",
            ),
        ] {
            let err = bad.validate().unwrap_err().to_string();
            assert!(err.contains(what), "{err}");
        }
        let net = lenet();
        let err = sub_block_masks(&net, &Params::random(&net, 1).unwrap(), 1.0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("sparsity 1 must be in [0, 1)"), "{err}");
    }
}
