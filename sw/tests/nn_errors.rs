//! Bad network and weight files give errors that say what is wrong and where.

use hesim_sw::nn::{self, HeParams, Network, NnError, Packing, Params};

fn err(text: &str) -> String {
    Network::from_toml(text, "bad.toml")
        .unwrap_err()
        .to_string()
}

#[test]
fn unknown_layer_type() {
    let e = err("input = [1, 8, 8]\n[[layers]]\ntype = \"maxpool\"\nkernel = 2\n");
    assert!(
        e.contains("bad.toml") && e.contains("maxpool") && e.contains("avgpool"),
        "{e}"
    );
}

#[test]
fn unknown_field() {
    let e =
        err("input = [1, 8, 8]\n[[layers]]\ntype = \"conv\"\nout = 2\nkernel = 3\npadding = 1\n");
    assert!(e.contains("padding"), "{e}");
}

#[test]
fn shape_mismatch() {
    let e = err(
        "input = [1, 8, 8]\n[[layers]]\ntype = \"conv\"\nout = 2\nkernel = 3\n[[layers]]\ntype = \"linear\"\nout = 3\n",
    );
    assert!(e.contains("linear2") && e.contains("flatten"), "{e}");
    let e = err("input = [1, 4, 4]\n[[layers]]\ntype = \"conv\"\nout = 2\nkernel = 7\n");
    assert!(e.contains("conv1") && e.contains("larger than"), "{e}");
    let e = err(
        "input = [2, 8, 8]\n[[layers]]\ntype = \"conv\"\nname = \"c\"\nout = 2\nkernel = 3\n[[layers]]\ntype = \"avgpool\"\nkernel = 2\n[[layers]]\ntype = \"residual\"\nfrom = \"c\"\n",
    );
    assert!(
        e.contains("residual") && e.contains("shapes must match"),
        "{e}"
    );
}

#[test]
fn groups_must_divide_channels() {
    let e =
        err("input = [6, 8, 8]\n[[layers]]\ntype = \"conv\"\nout = 8\nkernel = 3\ngroups = 4\n");
    assert!(
        e.contains("conv1") && e.contains("groups = 4") && e.contains("(6)"),
        "{e}"
    );
}

#[test]
fn too_large_for_the_slot_count() {
    let net = Network::from_toml(
        "input = [1, 128, 128]\n[[layers]]\ntype = \"conv\"\nout = 2\nkernel = 3\n",
        "big.toml",
    )
    .unwrap();
    let params = Params::random(&net, 1).unwrap();
    let e = nn::build(&net, &params, Packing::Dense, &HeParams::default()).unwrap_err();
    assert!(matches!(e, NnError::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("16384 slots"), "{e}");
}

#[test]
fn wrong_weight_shape() {
    // a LeNet checkpoint whose conv2 is dense (64 input channels per filter instead of 16)
    let net = nn::network::lenet();
    let mut tensors: Vec<(String, Vec<usize>)> = vec![
        ("conv1.weight".into(), vec![64, 1, 5, 5]),
        ("conv1.bias".into(), vec![64]),
        ("conv2.weight".into(), vec![32, 64, 5, 5]),
    ];
    tensors.push(("conv2.bias".into(), vec![32]));
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, s)| vec![0u8; 4 * s.iter().product::<usize>()])
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .zip(&data)
        .map(|((n, s), d)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d)
                    .unwrap(),
            )
        })
        .collect();
    let bytes = safetensors::serialize(views, None).unwrap();
    let e = Params::from_safetensors_bytes(&net, &bytes, "bad.safetensors")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("conv2.weight") && e.contains("[32, 64, 5, 5]") && e.contains("[32, 16, 5, 5]"),
        "{e}"
    );
}

#[test]
fn unsupported_padding_is_an_error_not_a_wrong_program() {
    let net = Network::from_toml(
        "input = [1, 8, 8]\n[[layers]]\ntype = \"conv\"\nout = 2\nkernel = 3\npad = 2\n",
        "pad.toml",
    )
    .unwrap();
    let params = Params::random(&net, 1).unwrap();
    let e = nn::build(&net, &params, Packing::Dense, &HeParams::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("conv1") && e.contains("pad"), "{e}");
}

/// The remedy a too-deep refusal suggests must exist for the packing: `hear` has no
/// bootstrapping (HEAR's design), so "drop --no-bootstrap" would send the user nowhere.
#[test]
fn too_deep_names_a_remedy_the_packing_has() {
    let options = nn::CompileOptions::default();
    let hear = nn::compile_named("resnet20", "hear", 1, &options).unwrap_err();
    assert!(matches!(hear, NnError::TooDeep { .. }), "{hear}");
    let hear = hear.to_string();
    assert!(
        hear.contains("HEAR never bootstraps") && !hear.contains("--no-bootstrap"),
        "{hear}"
    );
    let no_boot = nn::CompileOptions {
        mux: nn::multiplexed::MuxOptions {
            bootstrap: false,
            ..options.mux.clone()
        },
        ..options
    };
    let dense = nn::compile_named("resnet20", "dense", 1, &no_boot).unwrap_err();
    assert!(dense.to_string().contains("drop --no-bootstrap"), "{dense}");
}

/// Strides multiply into the layout's dilation along a network: a stride of 2^63 after a
/// stride-2 conv wrapped the dilation to 0 (found by fuzz target `network_structured`; release
/// builds have no overflow checks, so without the checked product the bad layout went on).
#[test]
fn a_dilation_past_usize_is_refused_naming_the_layer() {
    let net = Network::from_toml(
        "input = [1, 8, 8]\n\
         [[layers]]\ntype = \"conv\"\nout = 2\nkernel = 3\npad = 1\nstride = 2\n\
         [[layers]]\ntype = \"conv\"\nname = \"huge\"\nout = 2\nkernel = 1\nstride = 9223372036854775808\n",
        "strides.toml",
    )
    .unwrap();
    let params = Params::random(&net, 1).unwrap();
    let Err(e) = nn::build(&net, &params, Packing::Dense, &HeParams::default()) else {
        panic!("a layout whose dilation wrapped to 0 was accepted");
    };
    assert!(
        matches!(&e, NnError::Unsupported { layer, .. } if layer == "huge"),
        "{e}"
    );
    assert!(e.to_string().contains("stride 9223372036854775808"), "{e}");
}
