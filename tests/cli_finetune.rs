//! `hesim finetune`: a short masked fine-tuning run on real MNIST images writes a checkpoint that
//! `hesim infer --weights FILE` reads (the plaintext network there is hesim-sw's naive
//! reference, independent of candle), and bad input exits 2 with the reason and no output file.

mod common;
use common::{have_mnist, hesim_with_data};

use std::collections::HashMap;
use std::path::Path;

use hesim_sw::nn::{self, Network, Params, PruneMasks};

/// A checkpoint of `net` with random weights, written by hesim-train's writer.
fn random_checkpoint(net: &Network, path: &Path) {
    let params = Params::random(net, 7).unwrap();
    let model = hesim_train::Model::new(net, &params, &PruneMasks::new()).unwrap();
    std::fs::write(path, model.to_safetensors(HashMap::new()).unwrap()).unwrap();
}

#[test]
fn a_short_run_writes_a_checkpoint_that_infer_reads() {
    if !have_mnist() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lenet-s0.5.safetensors");
    let out_s = out.to_str().unwrap();
    let (code, stdout, err) = common::hesim(&[
        "finetune",
        "--net",
        "lenet",
        "--sparsity",
        "0.5",
        "--epochs",
        "1",
        "--train-images",
        "300",
        "--eval-images",
        "200",
        "--out",
        out_s,
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("finetune: epoch 1/1: loss"),
        "no epoch line: {err}"
    );
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["train_images"], 300);
    assert_eq!(r["eval_images"], 200);
    let split = r["split"].as_str().unwrap();
    assert!(
        split.contains("evaluated on test images 5000–5199")
            || split.contains("evaluated on MNIST test images 0–199"),
        "{split}"
    );
    assert_eq!(r["pruned_layers"], serde_json::json!(["conv2"]));
    let (pruned, fine) = (
        r["pruned_accuracy"].as_f64().unwrap(),
        r["finetuned_accuracy"].as_f64().unwrap(),
    );
    // pruning at 50 % without fine-tuning loses ~40 points; one short epoch wins most back
    assert!(fine > pruned + 0.1, "pruned {pruned}, fine-tuned {fine}");

    let (code, stdout, err) = common::hesim(&[
        "infer",
        "--net",
        "lenet",
        "--packing",
        "spencnn",
        "--sparsity",
        "0.5",
        "--weights",
        out_s,
        "--backend",
        "plain",
        "--offset",
        "5000",
        "--images",
        "200",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let infer: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let infer_accuracy = infer["accuracy"].as_f64().unwrap();
    if r["split_kind"] == "TestHalves" {
        // the naive reference on the written file reproduces candle's accuracy on these images
        assert!(
            (infer_accuracy - fine).abs() < 0.011,
            "infer {infer_accuracy}, candle {fine}"
        );
    }
}

#[test]
fn bad_sparsity_and_settings_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.safetensors");
    for (args, reason) in [
        (vec!["--sparsity", "1"], "sparsity 1 must be in [0, 1)"),
        (
            vec!["--sparsity", "-0.1"],
            "sparsity -0.1 must be in [0, 1)",
        ),
        (
            vec!["--sparsity", "0.5,1.5"],
            "sparsity 1.5 must be in [0, 1)",
        ),
        (
            vec!["--sparsity", "0.5", "--epochs", "0"],
            "--epochs must be at least 1",
        ),
    ] {
        let mut all = vec!["finetune", "--out", out.to_str().unwrap()];
        all.extend(args);
        let (code, _, err) = common::hesim(&all);
        assert_eq!(code, 2, "{all:?}: {err}");
        assert!(err.contains(reason), "{all:?}: {err}");
    }
    assert!(!out.exists());
}

#[test]
fn networks_without_trainable_layers_or_mnist_shape_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("pools.toml");
    std::fs::write(
        &toml,
        "name = \"pools\"\ninput = [1, 28, 28]\n\n[[layers]]\ntype = \"avgpool\"\nkernel = 2\n\n\
         [[layers]]\ntype = \"flatten\"\n",
    )
    .unwrap();
    let out = dir.path().join("x.safetensors");
    let out_s = out.to_str().unwrap();
    let (code, _, err) = common::hesim(&[
        "finetune",
        "--net",
        toml.to_str().unwrap(),
        "--sparsity",
        "0.5",
        "--out",
        out_s,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("has no trainable layer"), "{err}");
    let (code, _, err) = common::hesim(&[
        "finetune",
        "--net",
        "vgg5",
        "--sparsity",
        "0.5",
        "--out",
        out_s,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("takes 3×32×32 inputs"), "{err}");
    assert!(!out.exists());
}

#[test]
fn a_missing_data_path_exits_2_naming_it() {
    let data = tempfile::tempdir().unwrap();
    let weights = data.path().join("random.safetensors");
    random_checkpoint(&nn::network::lenet(), &weights);
    let out = data.path().join("x.safetensors");
    let (code, _, err) = hesim_with_data(
        data.path(),
        &[
            "finetune",
            "--sparsity",
            "0.25",
            "--weights",
            weights.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot load MNIST from") && err.contains("t10k-images-idx3-ubyte.gz"),
        "{err}"
    );
    assert!(!out.exists());
    // the default checkpoint under a data root without one
    let (code, _, err) = hesim_with_data(
        data.path(),
        &[
            "finetune",
            "--sparsity",
            "0.25",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("lenet_specnn.safetensors"), "{err}");
}

#[test]
fn a_checkpoint_of_the_wrong_shape_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    // LeNet with 32 instead of 64 conv1 filters: conv1.weight is [32, 1, 5, 5]
    let mut narrow = nn::network::lenet();
    if let nn::LayerKind::Conv { out, .. } = &mut narrow.layers[0].kind {
        *out = 32;
    }
    let narrow = Network::new("narrow", narrow.input, narrow.layers).unwrap();
    let weights = dir.path().join("narrow.safetensors");
    random_checkpoint(&narrow, &weights);
    let out = dir.path().join("x.safetensors");
    let (code, _, err) = common::hesim(&[
        "finetune",
        "--sparsity",
        "0.5",
        "--weights",
        weights.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "tensor `conv1.weight` has shape [32, 1, 5, 5], the network needs [64, 1, 5, 5]"
        ),
        "{err}"
    );
    assert!(!out.exists());
}
