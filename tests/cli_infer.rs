//! `hesim infer`: encrypted LeNet on real MNIST images agrees with the plaintext network (the
//! independent reference: the checkpoint evaluated directly with naive convolutions), windows
//! of the test set are selected by `--offset`, networks without a test set run on synthetic
//! inputs, and bad arguments exit 2 with a message naming the fix.

mod common;
use common::{have_mnist, hesim};

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn encrypted_lenet_agrees_with_the_plaintext_network_on_two_threads() {
    if !have_mnist() {
        return;
    }
    let (code, out, err) = hesim(&[
        "infer", "--images", "4", "--offset", "8", "--jobs", "2", "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("infer: 4/4 images"), "no progress line: {err}");
    let r = json(&out);
    assert_eq!(r["images"], 4);
    assert_eq!(r["jobs"], 2);
    assert_eq!(r["agreement"], 1.0, "{out}");
    let err = r["max_logit_error"].as_f64().unwrap();
    assert!(err > 0.0 && err < 1e-3, "CKKS logit error {err}");
    // LeNet has no bootstraps: their time is +0, not the −0.0 an empty f64 sum gives.
    let boot = r["bootstrap_cpu_seconds_per_image"].as_f64().unwrap();
    assert!(boot == 0.0 && boot.is_sign_positive(), "{out}");
}

#[test]
fn offset_windows_partition_the_test_set() {
    if !have_mnist() {
        return;
    }
    let correct = |offset: &str, images: &str| {
        let (code, out, err) = hesim(&[
            "infer",
            "--backend",
            "plain",
            "--offset",
            offset,
            "--images",
            images,
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        let r = json(&out);
        (
            r["images"].as_u64().unwrap(),
            r["correct"].as_u64().unwrap(),
        )
    };
    let (n_all, all) = correct("0", "300");
    let (n_a, a) = correct("0", "120");
    let (n_b, b) = correct("120", "180");
    assert_eq!((n_all, n_a + n_b), (300, 300));
    assert_eq!(all, a + b);
    // The tail window is clipped to the 10,000 images of the set.
    assert_eq!(correct("9990", "50").0, 10);
}

#[test]
fn networks_without_a_test_set_run_on_synthetic_inputs() {
    let (code, out, err) = hesim(&[
        "infer",
        "--net",
        "vgg5",
        "--weights",
        "random",
        "--packing",
        "group",
        "--backend",
        "slots",
        "--images",
        "2",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r = json(&out);
    assert_eq!(r["inputs"], "synthetic inputs");
    assert!(r["accuracy"].is_null());
    assert_eq!(r["agreement"], 1.0);
    assert!(r["max_logit_error"].as_f64().unwrap() < 1e-9, "{out}");
}

#[test]
fn bad_arguments_exit_2_with_the_fix() {
    for (args, needle) in [
        (
            &[
                "infer",
                "--net",
                "vgg5",
                "--weights",
                "random",
                "--inputs",
                "mnist",
            ][..],
            "--inputs synthetic",
        ),
        (
            &["infer", "--inputs", "cifar"][..],
            "use mnist or synthetic",
        ),
        (
            &["infer", "--backend", "gpu"][..],
            "use ckks, slots or plain",
        ),
        (&["infer", "--images", "0"][..], "at least 1"),
        (&["infer", "--jobs", "0"][..], "--jobs"),
    ] {
        let (code, out, err) = hesim(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?} printed {out}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    if have_mnist() {
        let (code, _, err) = hesim(&["infer", "--offset", "10000", "--backend", "plain"]);
        assert_eq!(code, 2);
        assert!(err.contains("past the end"), "{err}");
    }
}

/// A checkpoint of `net` with `params` in the layout `--weights FILE` reads: PyTorch
/// state-dict keys from the network description's layer names (`{conv}.weight`
/// `[out, in/groups, k, k]`, `{conv}.bias`, `{bn}.weight/.bias/.running_mean/.running_var`,
/// `{linear}.weight` `[out, in]`), F32. `edit` may change a tensor (name, shape, values) or drop
/// it (`false`).
fn checkpoint(
    net: &hesim_sw::nn::Network,
    params: &hesim_sw::nn::Params,
    edit: impl Fn(&str, &mut Vec<usize>, &mut Vec<f32>) -> bool,
) -> Vec<u8> {
    use hesim_sw::nn::network::LayerKind;
    use hesim_sw::nn::weights::LayerParams;
    let inputs = net.input_shapes().unwrap();
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    for ((layer, input), p) in net.layers.iter().zip(&inputs).zip(&params.layers) {
        let n = &layer.name;
        let (shape, has_bias) = match layer.kind {
            LayerKind::Conv {
                out,
                kernel,
                groups,
                bias,
                ..
            } => (vec![out, input.c / groups, kernel, kernel], bias),
            LayerKind::Linear { out, bias } => (vec![out, input.c], bias),
            _ => (Vec::new(), false),
        };
        let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        match p {
            LayerParams::Affine { weight, bias } => {
                let len = shape.iter().product();
                let w = (0..len).map(|i| weight.get(i) as f32).collect();
                tensors.push((format!("{n}.weight"), shape, w));
                if has_bias {
                    tensors.push((format!("{n}.bias"), vec![bias.len()], f32s(bias)));
                }
            }
            LayerParams::BatchNorm {
                gamma,
                beta,
                mean,
                var,
                ..
            } => {
                for (key, v) in [
                    ("weight", gamma),
                    ("bias", beta),
                    ("running_mean", mean),
                    ("running_var", var),
                ] {
                    tensors.push((format!("{n}.{key}"), vec![v.len()], f32s(v)));
                }
            }
            _ => {}
        }
    }
    let kept: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .filter_map(|(name, mut shape, mut values)| {
            edit(&name, &mut shape, &mut values).then(|| {
                let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                (name, shape, bytes)
            })
        })
        .collect();
    let views: Vec<(&str, safetensors::tensor::TensorView<'_>)> = kept
        .iter()
        .map(|(name, shape, bytes)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .unwrap();
            (name.as_str(), view)
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

/// `--weights FILE` for ResNet-20, both programs (hesim's multiplexed one and Lee et al.'s): a
/// checkpoint written from the random weights runs on the slot interpreter and matches the
/// plaintext network with the file's weights; a missing tensor, a wrong shape and a NaN exit 2
/// naming the tensor, without output.
#[test]
fn resnet20_reads_a_safetensors_checkpoint() {
    use hesim_sw::nn::{Network, Params, network::resnet20_lee};
    let dir = tempfile::tempdir().unwrap();
    let lee = resnet20_lee();
    let hesim_net = Network::builtin("resnet20").unwrap();
    for (packing, net, tensor) in [
        ("multiplexed", &hesim_net, "s2b1c1.weight"),
        ("lee", &lee, "s3b2c2.weight"),
    ] {
        let params = Params::random(net, 5).unwrap();
        let write = |name: &str, bytes: Vec<u8>| {
            let path = dir.path().join(format!("{packing}-{name}.safetensors"));
            std::fs::write(&path, bytes).unwrap();
            path.to_str().unwrap().to_owned()
        };
        let run = |file: &str| {
            hesim(&[
                "infer",
                "--net",
                "resnet20",
                "--packing",
                packing,
                "--weights",
                file,
                "--backend",
                "slots",
                "--images",
                "1",
                "--jobs",
                "1",
                "--json",
            ])
        };
        let good = write("good", checkpoint(net, &params, |_, _, _| true));
        let (code, out, err) = run(&good);
        assert_eq!(code, 0, "{packing}: {err}");
        let r = json(&out);
        assert_eq!(r["weights"], good.as_str());
        assert_eq!(r["agreement"], 1.0);
        assert!(r["max_logit_error"].as_f64().unwrap() < 1e-6, "{out}");
        let missing = write("missing", checkpoint(net, &params, |n, _, _| n != tensor));
        let wrong_shape = write(
            "shape",
            checkpoint(net, &params, |n, shape, _| {
                if n == tensor {
                    shape.reverse();
                }
                true
            }),
        );
        let nan = write(
            "nan",
            checkpoint(net, &params, |n, _, values| {
                if n == tensor {
                    values[7] = f32::NAN;
                }
                true
            }),
        );
        for (file, needle) in [
            (missing, "is missing"),
            (wrong_shape, "has shape"),
            (nan, "NaN"),
        ] {
            let (code, out, err) = run(&file);
            assert_eq!(code, 2, "{file}: {err}");
            assert!(out.is_empty(), "{file} printed {out}");
            assert!(
                err.contains(tensor) && err.contains(needle),
                "{file}: {err}"
            );
        }
    }
}
