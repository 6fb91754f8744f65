//! `hesim infer`: encrypted LeNet on real MNIST images agrees with the plaintext network (the
//! independent reference: the checkpoint evaluated directly with naive convolutions), windows
//! of the test set are selected by `--offset`, networks without a test set run on synthetic
//! inputs, and bad arguments exit 2 with a message naming the fix.

mod common;
use common::hesim;

/// True when the MNIST test set is present; under `CI=true` a missing set fails loudly.
fn have_mnist() -> bool {
    let dir = hesim_sw::nn::data_root().join("data/mnist");
    let present = dir.join("t10k-images-idx3-ubyte.gz").exists();
    if !present {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "MNIST test set missing under {} (CI=true); set HESIM_DATA",
            dir.display()
        );
        eprintln!("skipping: MNIST test set not under {}", dir.display());
    }
    present
}

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
