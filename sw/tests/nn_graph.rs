//! The graph IR: edges by name, concat, global pooling and named ReLU approximations in the
//! TOML format, and the one plaintext reference forward pass checked against an independent
//! computation (single-layer networks composed by hand).

use hesim_sw::nn::{self, Network, NnError, Params, PruneMasks, ReluApprox};

fn input_for(len: usize, seed: u64) -> Vec<f64> {
    (0..len)
        .map(|i| 0.5 * (nn::weights::uniform(seed, i as u64) + 1.0))
        .collect()
}

/// A concat of two branches reading the network input equals the two single-branch networks'
/// outputs one after the other.
#[test]
fn concat_of_branches_equals_the_branches() {
    let net = Network::from_toml(
        r#"
input = [2, 5, 5]
[[layers]]
type = "conv"
name = "a"
out = 3
kernel = 3
[[layers]]
type = "conv"
name = "b"
input = "input"
out = 2
kernel = 3
[[layers]]
type = "concat"
input = "a"
from = ["b"]
[[layers]]
type = "relu"
approx = "apprelu"
bound = 4.0
"#,
        "concat",
    )
    .unwrap();
    let shapes = net.shapes().unwrap();
    assert_eq!(shapes[2], nn::Shape::new(5, 3, 3));
    let params = Params::random(&net, 5).unwrap();
    let x = input_for(net.input.len(), 6);
    let got = nn::forward(&net, &params, &PruneMasks::new(), &x);
    // the same layers, one network per branch, with the same parameters
    let single = |li: usize| {
        let mut layer = net.layers[li].clone();
        layer.input = None;
        let n = Network::new("one", net.input, vec![layer]).unwrap();
        let p = Params {
            layers: vec![params.layers[li].clone()],
            source: params.source.clone(),
        };
        nn::forward(&n, &p, &PruneMasks::new(), &x)
    };
    let approx = ReluApprox::AppRelu { bound: 4.0 };
    let want: Vec<f64> = single(0)
        .into_iter()
        .chain(single(1))
        .map(|v| approx.eval(v))
        .collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-12, "{g} vs {w}");
    }
}

/// Bad edges and mismatched operands are shape errors naming the layer.
#[test]
fn bad_edges_name_the_layer() {
    let cases = [
        (
            "type = \"conv\"\nname = \"c\"\ninput = \"nowhere\"\nout = 2\nkernel = 1",
            "c",
            "not an earlier layer",
        ),
        (
            "type = \"conv\"\nname = \"c\"\nout = 2\nkernel = 1\n[[layers]]\ntype = \"residual\"\nname = \"r\"\nfrom = \"input\"",
            "r",
            "shapes must match",
        ),
        (
            "type = \"avgpool\"\nname = \"p\"\nkernel = 2\n[[layers]]\ntype = \"concat\"\nname = \"j\"\nfrom = [\"input\"]",
            "j",
            "heights and widths must match",
        ),
        (
            "type = \"relu\"\nname = \"later\"\ninput = \"later\"",
            "later",
            "not an earlier layer",
        ),
        (
            "type = \"flatten\"\nname = \"input\"",
            "input",
            "network input",
        ),
    ];
    for (layers, layer, needle) in cases {
        let text = format!("input = [1, 4, 4]\n[[layers]]\n{layers}\n");
        match Network::from_toml(&text, "t") {
            Err(NnError::Shape { layer: l, message }) => {
                assert_eq!(l, layer, "{message}");
                assert!(message.contains(needle), "{message}");
            }
            other => panic!("{layers}: {other:?}"),
        }
    }
    let e = Network::from_toml(
        "input = [1, 4, 4]\n[[layers]]\ntype = \"relu\"\napprox = \"gelu\"\n",
        "t",
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown ReLU approximation"), "{e}");
}
