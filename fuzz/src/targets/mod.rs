//! The fuzz targets, one file each. Each opens with what it checks and the
//! property a crash means was broken.

use crate::engine::Target;

pub mod envelope;
pub mod json_schema;
pub mod merge;
pub mod pipeline;
pub mod policy;

/// Every target, in the order `taylordash-fuzz` runs them.
pub fn all() -> Vec<Target> {
    vec![pipeline::target(), policy::target(), envelope::target(), json_schema::target(), merge::target()]
}

pub fn by_name(name: &str) -> Option<Target> {
    all().into_iter().find(|t| t.name == name)
}

/// A YAML tree's depth and node count (scalars, sequences and mappings).
pub(crate) fn depth_and_nodes(node: &taylordash::yaml::Node) -> (usize, usize) {
    use taylordash::yaml::Value;
    match &node.value {
        Value::Scalar { .. } => (0, 1),
        Value::Seq(items) => items.iter().map(depth_and_nodes).fold((1, 1), |(d, n), (cd, cn)| (d.max(cd + 1), n + cn)),
        Value::Map(entries) => entries.iter().fold((1, 1), |(d, n), (k, v)| {
            let ((kd, kn), (vd, vn)) = (depth_and_nodes(k), depth_and_nodes(v));
            (d.max(kd + 1).max(vd + 1), n + kn + vn)
        }),
    }
}
