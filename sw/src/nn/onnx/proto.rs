//! The part of ONNX's protobuf schema (`onnx/onnx.proto`, field numbers as published there)
//! that the importer reads, declared with `prost`'s derive macro, and a bound on what
//! decoding it allocates.
//!
//! Why `prost` with hand-declared messages rather than generated code or an ONNX crate:
//! prost is the maintained, widely used pure-Rust protobuf runtime (tokio-rs); declaring
//! only the fields hesim reads keeps the schema auditable (a few dozen lines against the
//! ~800 of `onnx.proto`), needs no `protoc` or build script, and lets prost skip every other
//! field (training info, functions, metadata, subgraphs) without allocating for it. The
//! existing ONNX crates either generate the whole schema with rust-protobuf at build time
//! (and need `protoc`) or are full inference runtimes (tract), far more than a reader.
//!
//! ONNX is proto2 and prost decodes proto2 and proto3 alike on the wire; fields whose
//! absence matters (a dimension's value or parameter) are `optional`.

use prost::Message;
use prost::bytes::Buf;
use prost::encoding::{WireType, decode_key, decode_varint};

#[derive(Clone, PartialEq, Message)]
pub struct ModelProto {
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(int64, tag = "2")]
    pub version: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
    /// Read only to refuse them: their contents are never needed.
    #[prost(bytes = "vec", repeated, tag = "15")]
    pub sparse_initializer: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
    #[prost(string, tag = "7")]
    pub domain: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(float, tag = "2")]
    pub f: f32,
    #[prost(int64, tag = "3")]
    pub i: i64,
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
    /// `AttributeProto.AttributeType`: see [`attribute_type`].
    #[prost(int32, tag = "20")]
    pub r#type: i32,
}

/// `AttributeProto.AttributeType` values the importer reads.
pub mod attribute_type {
    pub const FLOAT: i32 = 1;
    pub const INT: i32 = 2;
    pub const STRING: i32 = 3;
    pub const TENSOR: i32 = 4;
    pub const INTS: i32 = 7;
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    /// `TensorProto.DataType`: see [`data_type`].
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    pub name: String,
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    #[prost(double, repeated, tag = "10")]
    pub double_data: Vec<f64>,
    /// Read only to refuse external weights: the entries themselves are never needed.
    #[prost(bytes = "vec", repeated, tag = "13")]
    pub external_data: Vec<Vec<u8>>,
    /// 0 DEFAULT, 1 EXTERNAL.
    #[prost(int32, tag = "14")]
    pub data_location: i32,
}

/// `TensorProto.DataType` values the importer reads.
pub mod data_type {
    pub const FLOAT: i32 = 1;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
    pub const DOUBLE: i32 = 11;
}

#[derive(Clone, PartialEq, Message)]
pub struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TypeProto {
    /// The `tensor_type` member of the `value` oneof (sequences, maps, ... stay `None`).
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TensorTypeProto>,
}

/// `TypeProto.Tensor`.
#[derive(Clone, PartialEq, Message)]
pub struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    /// `None`: the rank is unknown.
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// `TensorShapeProto.Dimension`: a fixed size, a symbolic one, or neither (unknown).
#[derive(Clone, PartialEq, Message)]
pub struct Dimension {
    #[prost(int64, optional, tag = "1")]
    pub dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}

/// Most bytes decoding one model may allocate (the structures, strings and repeated values
/// above, with `Vec`'s growth slack), checked by [`decoded_size`] before prost allocates
/// anything: a 2-byte empty node would otherwise cost a ~150-byte struct, so a file
/// within the size cap could still ask for tens of GB.
pub const MAX_DECODED_BYTES: u64 = 1 << 30;

/// What a field of the declared schema holds, for [`decoded_size`].
#[derive(Clone, Copy, Debug)]
enum Field {
    Message(&'static Schema),
    /// `string` or `bytes`.
    Bytes,
    /// A repeated number of `size` bytes in memory: a varint, or fixed-width of the same
    /// size on the wire.
    Numbers {
        size: u64,
        varint: bool,
    },
    /// A singular number (no allocation of its own).
    Number,
}

#[derive(Debug)]
struct Schema {
    /// The decoded struct's size.
    size: u64,
    fields: &'static [(u32, Field)],
}

const fn size_of<T>() -> u64 {
    std::mem::size_of::<T>() as u64
}

const STRING_SIZE: u64 = size_of::<String>();
const VARINTS: Field = Field::Numbers {
    size: 8,
    varint: true,
};

static DIMENSION: Schema = Schema {
    size: size_of::<Dimension>(),
    fields: &[(1, Field::Number), (2, Field::Bytes)],
};
static SHAPE: Schema = Schema {
    size: size_of::<TensorShapeProto>(),
    fields: &[(1, Field::Message(&DIMENSION))],
};
static TENSOR_TYPE: Schema = Schema {
    size: size_of::<TensorTypeProto>(),
    fields: &[(1, Field::Number), (2, Field::Message(&SHAPE))],
};
static TYPE: Schema = Schema {
    size: size_of::<TypeProto>(),
    fields: &[(1, Field::Message(&TENSOR_TYPE))],
};
static VALUE_INFO: Schema = Schema {
    size: size_of::<ValueInfoProto>(),
    fields: &[(1, Field::Bytes), (2, Field::Message(&TYPE))],
};
static TENSOR: Schema = Schema {
    size: size_of::<TensorProto>(),
    fields: &[
        (1, VARINTS),
        (2, Field::Number),
        (
            4,
            Field::Numbers {
                size: 4,
                varint: false,
            },
        ),
        (
            5,
            Field::Numbers {
                size: 4,
                varint: true,
            },
        ),
        (7, VARINTS),
        (8, Field::Bytes),
        (9, Field::Bytes),
        (
            10,
            Field::Numbers {
                size: 8,
                varint: false,
            },
        ),
        (13, Field::Bytes),
        (14, Field::Number),
    ],
};
static ATTRIBUTE: Schema = Schema {
    size: size_of::<AttributeProto>(),
    fields: &[
        (1, Field::Bytes),
        (2, Field::Number),
        (3, Field::Number),
        (4, Field::Bytes),
        (5, Field::Message(&TENSOR)),
        (8, VARINTS),
        (20, Field::Number),
    ],
};
static NODE: Schema = Schema {
    size: size_of::<NodeProto>(),
    fields: &[
        (1, Field::Bytes),
        (2, Field::Bytes),
        (3, Field::Bytes),
        (4, Field::Bytes),
        (5, Field::Message(&ATTRIBUTE)),
        (7, Field::Bytes),
    ],
};
static GRAPH: Schema = Schema {
    size: size_of::<GraphProto>(),
    fields: &[
        (1, Field::Message(&NODE)),
        (2, Field::Bytes),
        (5, Field::Message(&TENSOR)),
        (11, Field::Message(&VALUE_INFO)),
        (12, Field::Message(&VALUE_INFO)),
        (15, Field::Bytes),
    ],
};
static OPSET: Schema = Schema {
    size: size_of::<OperatorSetIdProto>(),
    fields: &[(1, Field::Bytes), (2, Field::Number)],
};
static MODEL: Schema = Schema {
    size: size_of::<ModelProto>(),
    fields: &[
        (1, Field::Number),
        (7, Field::Message(&GRAPH)),
        (8, Field::Message(&OPSET)),
    ],
};

/// Why the bytes cannot be decoded within the bounds.
#[derive(Debug)]
pub enum SizeError {
    /// Not well-formed protobuf (prost would refuse it too).
    Malformed(String),
    /// Decoding would allocate more than [`MAX_DECODED_BYTES`].
    TooLarge,
}

/// An upper bound on the bytes prost allocates to decode `bytes` as a [`ModelProto`]
/// (twice each repeated field's contents, for `Vec`'s growth), or an error as soon as the
/// bound passes [`MAX_DECODED_BYTES`]. Walks the wire format once without allocating;
/// fields outside the declared schema are skipped, as prost skips them.
pub fn decoded_size(bytes: &[u8]) -> Result<u64, SizeError> {
    let mut total = MODEL.size;
    walk(&MODEL, bytes, &mut total)?;
    Ok(total)
}

fn walk(schema: &Schema, mut buf: &[u8], total: &mut u64) -> Result<(), SizeError> {
    let malformed = |e: prost::DecodeError| SizeError::Malformed(e.to_string());
    while buf.has_remaining() {
        let (tag, wire_type) = decode_key(&mut buf).map_err(malformed)?;
        let field = schema
            .fields
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, f)| *f);
        let payload: &[u8] = match wire_type {
            WireType::Varint => {
                decode_varint(&mut buf).map_err(malformed)?;
                &[]
            }
            WireType::ThirtyTwoBit | WireType::SixtyFourBit => {
                let width = if wire_type == WireType::ThirtyTwoBit {
                    4
                } else {
                    8
                };
                take(&mut buf, width)?
            }
            WireType::LengthDelimited => {
                let len = decode_varint(&mut buf).map_err(malformed)?;
                take(&mut buf, len)?
            }
            WireType::StartGroup | WireType::EndGroup => {
                return Err(SizeError::Malformed(
                    "protobuf groups (wire types 3 and 4) do not occur in ONNX".into(),
                ));
            }
        };
        let cost = match field {
            None | Some(Field::Number) => 0,
            Some(Field::Message(child)) if wire_type == WireType::LengthDelimited => {
                add(total, 2 * child.size)?;
                walk(child, payload, total)?;
                0
            }
            Some(Field::Bytes) => 2 * STRING_SIZE + payload.len() as u64,
            Some(Field::Numbers { size, varint }) => {
                let count = match (wire_type, varint) {
                    (WireType::LengthDelimited, true) => {
                        payload.iter().filter(|&&b| b < 0x80).count() as u64
                    }
                    (WireType::LengthDelimited, false) => payload.len() as u64 / size,
                    _ => 1,
                };
                2 * size * count
            }
            // A message field with the wrong wire type: prost refuses it.
            Some(Field::Message(_)) => 0,
        };
        add(total, cost)?;
    }
    Ok(())
}

fn take<'a>(buf: &mut &'a [u8], len: u64) -> Result<&'a [u8], SizeError> {
    let len = usize::try_from(len)
        .ok()
        .filter(|&n| n <= buf.len())
        .ok_or_else(|| SizeError::Malformed("a field runs past the end of the data".into()))?;
    let (head, rest) = buf.split_at(len);
    *buf = rest;
    Ok(head)
}

fn add(total: &mut u64, cost: u64) -> Result<(), SizeError> {
    *total = total.saturating_add(cost);
    if *total > MAX_DECODED_BYTES {
        return Err(SizeError::TooLarge);
    }
    Ok(())
}

/// Decodes a model after checking [`decoded_size`].
pub fn decode_model(bytes: &[u8]) -> Result<ModelProto, SizeError> {
    decoded_size(bytes)?;
    ModelProto::decode(bytes).map_err(|e| SizeError::Malformed(e.to_string()))
}
