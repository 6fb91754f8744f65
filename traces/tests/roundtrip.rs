//! Property: any valid trace survives write → read unchanged, and passes validation.

use hesim_traces::synthetic::{self, Choice};
use hesim_traces::{Op, TraceReader, TraceWriter};
use proptest::prelude::*;

fn choices() -> impl Strategy<Value = Vec<Choice>> {
    prop::collection::vec(
        (any::<u8>(), any::<u32>(), any::<u32>(), any::<i32>()).prop_map(
            |(kind, pick_a, pick_b, step)| Choice {
                kind,
                pick_a,
                pick_b,
                step,
            },
        ),
        0..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn write_then_read_gives_the_same_ops(choices in choices()) {
        let header = synthetic::header();
        let ops = synthetic::build(choices);
        let mut writer = TraceWriter::new(Vec::new(), &header).unwrap();
        for op in &ops {
            writer.write_op(op).unwrap();
        }
        let bytes = writer.finish().unwrap();

        let reader = TraceReader::new(bytes.as_slice()).unwrap();
        prop_assert_eq!(reader.header(), &header);
        let back: Vec<Op> = reader.collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(&back, &ops);

        let analysis = hesim_traces::analyze(TraceReader::new(bytes.as_slice()).unwrap()).unwrap();
        prop_assert!(analysis.is_valid(), "{:?}", analysis.violations);
        prop_assert_eq!(analysis.stats.ops, ops.len() as u64);
    }
}
