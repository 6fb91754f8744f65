//! [`ValueTable`]: SSA values by id, the lookup every trace consumer does per operand.

use rustc_hash::FxHashMap;

use crate::ValueId;

/// Something per SSA value, by id. Generators number ids densely, so a vector indexed by id is
/// the fast common case; ids far beyond the ops seen so far go to a map, so a stray huge id
/// cannot make the vector enormous.
#[derive(Clone, Debug)]
pub struct ValueTable<V> {
    dense: Vec<Option<V>>,
    sparse: FxHashMap<ValueId, V>,
}

impl<V> Default for ValueTable<V> {
    fn default() -> Self {
        Self {
            dense: Vec::new(),
            sparse: FxHashMap::default(),
        }
    }
}

impl<V: Copy> ValueTable<V> {
    /// A table with room for ids below `ids` without growing.
    pub fn with_capacity(ids: usize) -> Self {
        Self {
            dense: Vec::with_capacity(ids),
            sparse: FxHashMap::default(),
        }
    }

    pub fn get(&self, id: ValueId) -> Option<&V> {
        match self.dense.get(id as usize) {
            Some(v) => v.as_ref(),
            None => self.sparse.get(&id),
        }
    }

    pub fn contains(&self, id: ValueId) -> bool {
        self.get(id).is_some()
    }

    /// Sets the value of `id`; `ops_seen` (ops read so far) bounds how far the dense part grows.
    pub fn insert(&mut self, id: ValueId, value: V, ops_seen: u64) {
        let i = id as usize;
        if i < self.dense.len() {
            self.dense[i] = Some(value);
        } else if (i as u64) < 2 * ops_seen + 1024 {
            self.dense.resize(i + 1, None);
            self.dense[i] = Some(value);
        } else {
            self.sparse.insert(id, value);
        }
    }
}
