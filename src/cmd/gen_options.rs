//! Which `trace gen` options each kind of `--net` uses. An option given for a network that
//! ignores it is an error that says where it applies: no option is silently dropped.

use anyhow::{Result, bail};
use clap::Parser;

use super::nn::GenArgs;
use super::resnet::ResnetVariant;

/// The kinds of `--net` whose options differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Resnet20,
    Resnet20Lee,
    Bootstrap,
    BootstrapRecipe,
    Helr,
    /// Everything compiled from a network description: lenet, vgg5, hefnet, resnet18,
    /// squeezenet-cifar, hemet, TOML and ONNX files.
    Network,
}

use Kind::{Bootstrap, BootstrapRecipe, Helr, Network, Resnet20, Resnet20Lee};

impl Kind {
    fn of(args: &GenArgs) -> Self {
        match args.net.net.as_str() {
            "resnet20" if args.boot.variant == ResnetVariant::Lee => Resnet20Lee,
            "resnet20" => Resnet20,
            "bootstrap" if args.boot.recipe.is_some() => BootstrapRecipe,
            "bootstrap" => Bootstrap,
            "helr" => Helr,
            _ => Network,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Resnet20 => "--net resnet20",
            Resnet20Lee => "--net resnet20 --variant lee",
            Bootstrap => "--net bootstrap",
            BootstrapRecipe => "--net bootstrap --recipe",
            Helr => "--net helr",
            Network => {
                "networks from a description (lenet, vgg5, hefnet, resnet18, squeezenet-cifar, \
                 hemet, TOML, ONNX)"
            }
        }
    }
}

/// The bootstrap's own parameters, which `--recipe` replaces.
const BOOT_PARAMS_USERS: &[Kind] = &[Resnet20, Resnet20Lee, Bootstrap, Helr];

/// Every per-network option and the kinds of network that use it.
const USERS: &[(&str, &[Kind])] = &[
    ("--packing", &[Resnet20, Network]),
    ("--sparsity", &[Network]),
    ("--block", &[Network]),
    ("--mode", &[Network]),
    ("--weights", &[Network]),
    ("--seed", &[Resnet20, Resnet20Lee, Network]),
    ("--no-bootstrap", &[Resnet20, Network]),
    ("--merge-coefficients", &[Network]),
    ("--word-bits", &[Network]),
    ("--variant", &[Resnet20Lee]),
    (
        "--expand-boot",
        &[Resnet20, Resnet20Lee, Bootstrap, BootstrapRecipe, Helr],
    ),
    ("--act-degree", &[Resnet20]),
    ("--aespa", &[Resnet20]),
    ("--groups", &[Resnet20]),
    ("--pruned-taps", &[Resnet20]),
    ("--limbs", &[Resnet20, Resnet20Lee, BootstrapRecipe, Helr]),
    ("--log-n", &[Resnet20Lee, Bootstrap, Helr]),
    ("--levels-after", &[Bootstrap, BootstrapRecipe]),
    ("--cts-levels", BOOT_PARAMS_USERS),
    ("--stc-levels", BOOT_PARAMS_USERS),
    ("--eval-mod-degree", BOOT_PARAMS_USERS),
    ("--double-angle", BOOT_PARAMS_USERS),
    ("--hoisting", BOOT_PARAMS_USERS),
    ("--key-reuse", BOOT_PARAMS_USERS),
    (
        "--allow-insecure",
        &[Resnet20, Resnet20Lee, Bootstrap, BootstrapRecipe, Helr],
    ),
    ("--recipe", &[BootstrapRecipe]),
    ("--slots", &[BootstrapRecipe]),
    ("--dnum", &[BootstrapRecipe]),
    ("--batch", &[Helr]),
    ("--iterations", &[Helr]),
    ("--features", &[Helr]),
    ("--full-slot-boot", &[Helr]),
];

/// What to use instead, where an option's purpose has another spelling for a kind.
const INSTEAD: &[(&str, Kind, &str)] = &[
    (
        "--sparsity",
        Resnet20,
        "resnet20 takes random weights and prunes whole taps: use --pruned-taps",
    ),
    (
        "--weights",
        Resnet20,
        "resnet20 takes random weights (--seed) and prunes whole taps (--pruned-taps)",
    ),
    (
        "--limbs",
        Bootstrap,
        "a --net bootstrap chain is --levels-after plus the bootstrap's own levels: use \
         --levels-after",
    ),
];

/// `trace gen`'s options with nothing given but the required ones: the defaults, from the
/// same declarations clap parses.
#[derive(Debug, Parser)]
struct Defaults {
    #[command(flatten)]
    args: GenArgs,
}

/// The options of `args` that differ from their defaults, as `(flag, value as given)`.
fn given(args: &GenArgs) -> Vec<(&'static str, String)> {
    let d = Defaults::parse_from(["trace-gen", "--net", "x", "--out", "x"]).args;
    let (b, db) = (&args.boot, &d.boot);
    let (h, dh) = (&args.helr, &d.helr);
    let (n, dn) = (&args.net, &d.net);
    let all = [
        ("--packing", n.packing != dn.packing, n.packing.clone()),
        (
            "--sparsity",
            n.sparsity.to_bits() != dn.sparsity.to_bits(),
            n.sparsity.to_string(),
        ),
        (
            "--block",
            n.block.is_some(),
            format!("{}", n.block.unwrap_or_default()),
        ),
        (
            "--mode",
            n.mode.is_some(),
            n.mode.clone().unwrap_or_default(),
        ),
        ("--weights", n.weights != dn.weights, n.weights.clone()),
        ("--seed", n.seed != dn.seed, n.seed.to_string()),
        ("--no-bootstrap", n.no_bootstrap, String::new()),
        ("--merge-coefficients", n.merge_coefficients, String::new()),
        (
            "--word-bits",
            args.word_bits.is_some(),
            format!("{}", args.word_bits.unwrap_or_default()),
        ),
        ("--variant", b.variant != db.variant, "lee".into()),
        ("--expand-boot", b.expand_boot, String::new()),
        (
            "--act-degree",
            b.act_degree != db.act_degree,
            b.act_degree.to_string(),
        ),
        ("--aespa", b.aespa, String::new()),
        ("--groups", b.groups != db.groups, b.groups.to_string()),
        (
            "--pruned-taps",
            b.pruned_taps != db.pruned_taps,
            b.pruned_taps.to_string(),
        ),
        (
            "--limbs",
            b.limbs.is_some(),
            format!("{}", b.limbs.unwrap_or_default()),
        ),
        ("--log-n", b.log_n != db.log_n, b.log_n.to_string()),
        (
            "--levels-after",
            b.levels_after != db.levels_after,
            b.levels_after.to_string(),
        ),
        (
            "--cts-levels",
            b.cts_levels != db.cts_levels,
            b.cts_levels.to_string(),
        ),
        (
            "--stc-levels",
            b.stc_levels != db.stc_levels,
            b.stc_levels.to_string(),
        ),
        (
            "--eval-mod-degree",
            b.eval_mod_degree != db.eval_mod_degree,
            b.eval_mod_degree.to_string(),
        ),
        (
            "--double-angle",
            b.double_angle != db.double_angle,
            b.double_angle.to_string(),
        ),
        (
            "--hoisting",
            b.hoisting != db.hoisting,
            format!("{:?}", b.hoisting).to_lowercase(),
        ),
        ("--key-reuse", b.key_reuse, String::new()),
        ("--allow-insecure", b.allow_insecure, String::new()),
        (
            "--recipe",
            b.recipe.is_some(),
            b.recipe.clone().unwrap_or_default(),
        ),
        (
            "--slots",
            b.slots.is_some(),
            format!("{}", b.slots.unwrap_or_default()),
        ),
        (
            "--dnum",
            b.dnum.is_some(),
            format!("{}", b.dnum.unwrap_or_default()),
        ),
        ("--batch", h.batch != dh.batch, h.batch.to_string()),
        (
            "--iterations",
            h.iterations != dh.iterations,
            h.iterations.to_string(),
        ),
        (
            "--features",
            h.features != dh.features,
            h.features.to_string(),
        ),
        ("--full-slot-boot", h.full_slot_boot, String::new()),
    ];
    all.into_iter()
        .filter(|(_, is_given, _)| *is_given)
        .map(|(flag, _, value)| (flag, value))
        .collect()
}

/// Refuses every option `args` gives that its `--net` would ignore, naming the networks that
/// use it.
pub fn refuse_unused(args: &GenArgs) -> Result<()> {
    let kind = Kind::of(args);
    let packing = args.net.packing.as_str();
    for (flag, value) in given(args) {
        let users = USERS
            .iter()
            .find(|(f, _)| *f == flag)
            .map_or(&[][..], |(_, users)| *users);
        let option = if value.is_empty() {
            flag.to_owned()
        } else {
            format!("{flag} {value}")
        };
        if !users.contains(&kind) {
            let names: Vec<&str> = users.iter().map(|k| k.name()).collect();
            let subject = if kind == Network {
                format!("--net {}", args.net.net)
            } else {
                kind.name().to_owned()
            };
            let instead = INSTEAD
                .iter()
                .find(|(f, k, _)| *f == flag && *k == kind)
                .map_or("drop it", |(_, _, hint)| hint);
            bail!(
                "{option} has no effect on {subject}: it applies to {}; {instead}",
                names.join(", ")
            );
        }
        // The block convolutions are grouped (and pruned) under these packings only.
        let ignored_by_packing = match flag {
            "--groups" => !matches!(packing, "spencnn" | "group"),
            "--pruned-taps" => packing != "spencnn",
            _ => false,
        };
        if kind == Resnet20 && ignored_by_packing {
            bail!(
                "{option} has no effect on resnet20 under --packing {packing}: it applies to \
                 --packing spencnn{}; drop it",
                if flag == "--groups" { " and group" } else { "" }
            );
        }
    }
    Ok(())
}
