//! The importer against ONNX files written by the PyPI `onnx` package
//! (`scripts/onnx/make_fixtures.py`), whose expected outputs come from that package's own
//! reference interpreter, and against hand-made malformed models.

use std::path::PathBuf;

use prost::Message;

use super::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, SizeError, TensorProto,
    TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto, attribute_type, data_type,
    decoded_size,
};
use super::*;
use crate::nn::reference::{PruneMasks, forward, max_abs_error};
use crate::nn::{LayerKind, Network, Params, ReluApprox};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/onnx")
        .join(name)
}

fn import(name: &str) -> Result<Imported, OnnxError> {
    convert(&Model::load(&fixture(name))?)
}

/// ReLU as the quadratic substitute, as the fixtures' expected outputs assume.
fn convert(model: &Model) -> Result<Imported, OnnxError> {
    to_network(model, &ReluApprox::Quadratic)
}

fn problem(name: &str) -> String {
    match import(name) {
        Ok(_) => panic!("{name} imported without an error"),
        Err(e) => e.to_string(),
    }
}

/// `{stem}.expected.json`: inputs and the outputs of `onnx.reference.ReferenceEvaluator`.
fn expected(stem: &str) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    #[derive(serde::Deserialize)]
    struct Record {
        inputs: Vec<Vec<f64>>,
        outputs: Vec<Vec<f64>>,
    }
    let text = std::fs::read_to_string(fixture(&format!("{stem}.expected.json"))).unwrap();
    let r: Record = serde_json::from_str(&text).unwrap();
    (r.inputs, r.outputs)
}

/// The imported network on each fixture input equals the onnx package's reference
/// interpreter (float32, so to ~1e-6 relative).
fn matches_reference(stem: &str) {
    let imported = import(&format!("{stem}.onnx")).unwrap();
    let (inputs, outputs) = expected(stem);
    assert!(!inputs.is_empty());
    for (x, want) in inputs.iter().zip(&outputs) {
        let got = forward(&imported.network, &imported.params, &PruneMasks::new(), x);
        assert_eq!(got.len(), want.len());
        let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let err = max_abs_error(&got, want);
        assert!(
            err <= 1e-5 * scale,
            "{stem}: error {err}: {got:?} vs {want:?}"
        );
    }
}

#[test]
fn conv_batchnorm_relu_pool_scale_matmul_match_the_onnx_reference() {
    matches_reference("tiny_conv");
    let imported = import("tiny_conv.onnx").unwrap();
    let kinds: Vec<_> = imported
        .network
        .layers
        .iter()
        .map(|l| l.kind.type_name())
        .collect();
    // scale1 (Mul by 0.5 after pooling) becomes a degree-1 polynomial layer.
    assert_eq!(
        kinds,
        [
            "conv",
            "batchnorm",
            "relu",
            "avgpool",
            "poly",
            "flatten",
            "linear"
        ]
    );
    let relu = imported.network.substitutions();
    assert!(
        relu.len() == 1 && relu[0].starts_with("relu1: ReLU replaced"),
        "{relu:?}"
    );
    assert!(imported.notes.iter().any(|n| n.contains("fc_bias")));
}

#[test]
fn residual_gemm_and_global_pooling_match_the_onnx_reference() {
    matches_reference("residual");
}

#[test]
fn the_spencnn_lenet_export_has_the_checkpoint_structure_and_matches_the_onnx_reference() {
    matches_reference("lenet_specnn");
    let imported = import("lenet_specnn.onnx").unwrap();
    let builtin = crate::nn::network::lenet();
    let kinds = |n: &Network| {
        n.layers
            .iter()
            .map(|l| l.kind.type_name())
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&imported.network), kinds(&builtin));
    assert_eq!(
        imported.network.shapes().unwrap(),
        builtin.shapes().unwrap()
    );
}

/// The ONNX export of the SpENCNN LeNet and the safetensors checkpoint it was exported from
/// give the same logits (same float32 weights, so to rounding).
#[test]
fn the_lenet_export_gives_the_safetensors_logits() {
    let Some(ckpt) = crate::nn::checkpoint_path("lenet").filter(|p| p.exists()) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the LeNet checkpoint is missing under the data root (set HESIM_DATA)"
        );
        eprintln!("skipping: LeNet checkpoint not found");
        return;
    };
    let builtin = crate::nn::network::lenet();
    let params = Params::from_safetensors(&builtin, &ckpt).unwrap();
    let imported = import("lenet_specnn.onnx").unwrap();
    for index in 0..4 {
        let x = crate::nn::synthetic_input(28 * 28, index);
        let a = forward(&builtin, &params, &PruneMasks::new(), &x);
        let b = forward(&imported.network, &imported.params, &PruneMasks::new(), &x);
        let err = max_abs_error(&a, &b);
        assert!(err <= 1e-12, "image {index}: {a:?} vs {b:?}");
    }
}

#[test]
fn an_unsupported_operator_names_the_node_its_type_and_the_supported_list() {
    let e = problem("unsupported_op.onnx");
    assert!(e.contains("pool1") && e.contains("MaxPool"), "{e}");
    assert!(e.contains(&SUPPORTED_OPS.join(", ")), "{e}");
}

#[test]
fn a_dynamic_batch_dimension_names_the_node_and_the_symbol() {
    let e = problem("dynamic_shape.onnx");
    assert!(
        e.contains("conv1") && e.contains("`batch`") && e.contains("static"),
        "{e}"
    );
}

#[test]
fn a_cycle_names_a_node_on_it() {
    let e = problem("cycle.onnx");
    assert!(
        e.contains("cycle") && (e.contains("`grow`") || e.contains("`loop`")),
        "{e}"
    );
}

#[test]
fn a_dangling_edge_names_the_node_and_the_tensor() {
    let e = problem("dangling.onnx");
    assert!(
        e.contains("conv2") && e.contains("ghost") && e.contains("dangling"),
        "{e}"
    );
}

#[test]
fn a_residual_of_mismatched_shapes_names_the_add() {
    let e = problem("residual_mismatch.onnx");
    assert!(e.contains("shortcut") && e.contains("[1, 4, 6, 6]"), "{e}");
}

#[test]
fn truncated_bytes_are_corrupt() {
    let e = problem("truncated.onnx");
    assert!(e.contains("not a valid ONNX file"), "{e}");
}

#[test]
fn concat_branches_match_the_onnx_reference() {
    matches_reference("concat");
    let imported = import("concat.onnx").unwrap();
    let concat = &imported.network.layers[2];
    assert_eq!(
        concat.kind,
        LayerKind::Concat {
            from: vec!["branch_b".into()]
        }
    );
    assert_eq!(concat.input.as_deref(), Some("branch_a"));
}

/// Every single-byte corruption and every truncation of a valid model gives a result or an
/// error, never a panic.
#[test]
fn mutated_and_truncated_models_never_panic() {
    let bytes = std::fs::read(fixture("tiny_conv.onnx")).unwrap();
    for cut in 0..bytes.len() {
        let _ = Model::decode(&bytes[..cut], "cut").map(|m| convert(&m));
    }
    for i in 0..bytes.len() {
        for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] = v;
            let _ = Model::decode(&b, "mutated").map(|m| convert(&m));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-made models

fn float_tensor(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        dims: dims.to_vec(),
        data_type: data_type::FLOAT,
        float_data: values.to_vec(),
        name: name.into(),
        ..Default::default()
    }
}

fn value_info(name: &str, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            dim_value: Some(d),
                            dim_param: None,
                        })
                        .collect(),
                }),
            }),
        }),
    }
}

fn node(name: &str, op: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: name.into(),
        op_type: op.into(),
        ..Default::default()
    }
}

fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INTS,
        ints: values.to_vec(),
        ..Default::default()
    }
}

/// x (1×4) → Gemm with a 3×4 weight → y.
fn gemm_model(weight: TensorProto, extra: Vec<NodeProto>) -> ModelProto {
    let mut nodes = vec![NodeProto {
        attribute: vec![AttributeProto {
            name: "transB".into(),
            r#type: attribute_type::INT,
            i: 1,
            ..Default::default()
        }],
        ..node("fc", "Gemm", &["x", "w"], "y")
    }];
    nodes.extend(extra);
    ModelProto {
        ir_version: 8,
        graph: Some(GraphProto {
            node: nodes,
            name: "g".into(),
            initializer: vec![weight],
            input: vec![value_info("x", &[1, 4])],
            output: vec![value_info("y", &[1, 3])],
            ..Default::default()
        }),
        opset_import: Vec::new(),
    }
}

fn decode_err(m: &ModelProto) -> String {
    match Model::decode(&m.encode_to_vec(), "test.onnx").and_then(|m| convert(&m)) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    }
}

fn weight_3x4() -> TensorProto {
    float_tensor("w", &[3, 4], &[0.5; 12])
}

#[test]
fn a_hand_made_gemm_imports() {
    let m = gemm_model(weight_3x4(), Vec::new());
    let model = Model::decode(&m.encode_to_vec(), "test.onnx").unwrap();
    let imported = convert(&model).unwrap();
    let y = forward(
        &imported.network,
        &imported.params,
        &PruneMasks::new(),
        &[1.0, 2.0, 3.0, 4.0],
    );
    assert_eq!(y, vec![5.0; 3]);
}

#[test]
fn a_weight_that_does_not_fit_the_input_names_the_node() {
    // 3×5 (transB) against an input of 4 columns.
    let e = decode_err(&gemm_model(
        float_tensor("w", &[3, 5], &[0.5; 15]),
        Vec::new(),
    ));
    assert!(
        e.contains("`fc` (Gemm)") && e.contains("input of 4 columns"),
        "{e}"
    );
}

#[test]
fn non_finite_weights_name_the_tensor() {
    let mut w = weight_3x4();
    w.float_data[5] = f32::NAN;
    let e = decode_err(&gemm_model(w, Vec::new()));
    assert!(
        e.contains("tensor `w`") && e.contains("NaN") && e.contains("index 5"),
        "{e}"
    );
}

#[test]
fn external_weights_are_refused_with_the_fix() {
    let mut w = weight_3x4();
    w.data_location = 1;
    let e = decode_err(&gemm_model(w, Vec::new()));
    assert!(e.contains("save_as_external_data=False"), "{e}");
}

#[test]
fn huge_constant_dimensions_are_refused_before_allocation() {
    let w = TensorProto {
        dims: vec![1 << 40, 1 << 40],
        data_type: data_type::FLOAT,
        name: "w".into(),
        ..Default::default()
    };
    let e = decode_err(&gemm_model(w, Vec::new()));
    assert!(e.contains("cap on one constant"), "{e}");
}

#[test]
fn a_values_count_that_disagrees_with_the_shape_is_refused() {
    let e = decode_err(&gemm_model(
        float_tensor("w", &[3, 4], &[1.0; 11]),
        Vec::new(),
    ));
    assert!(
        e.contains("holds 11 values") && e.contains("needs 12"),
        "{e}"
    );
}

#[test]
fn unknown_attributes_and_dilations_are_refused_naming_the_node() {
    let mut m = gemm_model(weight_3x4(), Vec::new());
    let g = m.graph.as_mut().unwrap();
    g.node[0].attribute.push(ints("mystery", &[1]));
    let e = decode_err(&m);
    assert!(e.contains("`fc` (Gemm)") && e.contains("mystery"), "{e}");
}

#[test]
fn a_product_of_two_different_tensors_is_refused() {
    let extra = vec![
        node("act", "Relu", &["y"], "r"),
        node("prod", "Mul", &["y", "r"], "z"),
    ];
    let mut m = gemm_model(weight_3x4(), extra);
    m.graph.as_mut().unwrap().output = vec![value_info("z", &[1, 3])];
    let e = decode_err(&m);
    assert!(
        e.contains("`prod` (Mul)") && e.contains("two different tensors"),
        "{e}"
    );
}

#[test]
fn a_run_time_reshape_target_is_a_dynamic_shape() {
    // The target shape is computed by a node (here a Relu of the input), not a constant.
    let extra = vec![node("flat", "Reshape", &["y", "y"], "z")];
    let mut m = gemm_model(weight_3x4(), extra);
    m.graph.as_mut().unwrap().output = vec![value_info("z", &[1, 3])];
    let e = decode_err(&m);
    assert!(
        e.contains("`flat` (Reshape)") && e.contains("static shapes"),
        "{e}"
    );
}

#[test]
fn a_polynomial_beyond_the_degree_cap_is_refused() {
    // y·y = y², then squaring again and again: sq5 would make y^64.
    let mut extra = vec![node("sq0", "Mul", &["y", "y"], "p0")];
    for i in 1..7 {
        let (a, b) = (format!("p{}", i - 1), format!("p{i}"));
        extra.push(node(&format!("sq{i}"), "Mul", &[&a, &a], &b));
    }
    let mut m = gemm_model(weight_3x4(), extra);
    m.graph.as_mut().unwrap().output = vec![value_info("p6", &[1, 3])];
    let e = decode_err(&m);
    assert!(e.contains("`sq5` (Mul)") && e.contains("degree 63"), "{e}");
}

#[test]
fn a_model_that_would_decode_to_more_than_the_cap_is_refused_before_decoding() {
    // 4 M empty nodes: 8 MB of protobuf, hundreds of MB of decoded structs.
    let count = 4 << 20;
    let mut graph = Vec::with_capacity(2 * count);
    for _ in 0..count {
        graph.extend_from_slice(&[0x0a, 0x00]);
    }
    let mut bytes = vec![0x3a];
    prost::encoding::encode_varint(graph.len() as u64, &mut bytes);
    bytes.extend_from_slice(&graph);
    let size = decoded_size(&bytes);
    assert!(matches!(size, Err(SizeError::TooLarge)), "{size:?}");
    let e = Model::decode(&bytes, "many.onnx").unwrap_err().to_string();
    assert!(e.contains("cap on a decoded model"), "{e}");
}

#[test]
fn the_decoded_size_bound_covers_what_prost_allocates_for_real_models() {
    // The bound is an upper bound: at least the model's own struct and its raw bytes.
    let bytes = std::fs::read(fixture("lenet_specnn.onnx")).unwrap();
    let bound = decoded_size(&bytes).unwrap();
    assert!(
        bound >= bytes.len() as u64 && bound < 8 * bytes.len() as u64,
        "{bound}"
    );
}

/// The imported networks compile under every diagonal packing, and the slot interpreter
/// equals the plaintext network computed directly (within 1e-9 relative), as for the
/// built-in networks.
#[test]
fn imported_networks_compile_and_the_slots_equal_the_direct_network() {
    use crate::nn::{HeParams, Packing, build};
    for stem in ["lenet_specnn", "tiny_conv", "residual"] {
        let imported = import(&format!("{stem}.onnx")).unwrap();
        let (inputs, _) = expected(stem);
        for (name, sparsity) in [("dense", 0.0), ("group", 0.0), ("spencnn", 0.5)] {
            let packing = Packing::parse(name, sparsity).unwrap();
            let program = build(
                &imported.network,
                &imported.params,
                packing,
                &HeParams::default(),
            )
            .unwrap();
            assert!(program.analyze().is_valid(), "{stem} {name}");
            let want = forward(
                &imported.network,
                &imported.params,
                &program.pruned,
                &inputs[0],
            );
            let got = crate::slots::infer(&program, &inputs[0]);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                    "{stem} {name}: {g} vs {w}"
                );
            }
        }
    }
}
