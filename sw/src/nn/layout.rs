//! Where tensor elements live in ciphertext slots (see `sw/PACKING.md`).
//!
//! A spatial tensor `C×H×W` is stored in `n_ct` ciphertexts of `n` slots. Each ciphertext has
//! the same list of *lanes*; a lane is a base slot offset, and a channel placed in lane `λ` of
//! ciphertext `t` keeps element `(y, x)` at slot `lanes[λ] + dil·(y·pitch + x)`. Lanes start as
//! power-of-two blocks of `block` slots; pooling and strided convolution raise `dil`, and
//! interlacing fills the freed sub-pixel positions with further lanes. Channels are assigned to
//! the *global lane index* `Λ = t·L + λ` (`L` = lanes per ciphertext); a channel may have several
//! placements (the client replicates small inputs).

/// The slot geometry of a spatial tensor (channel assignment aside).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub h: usize,
    pub w: usize,
    /// Slots between vertically adjacent pixels of the original raster.
    pub pitch: usize,
    /// Spatial dilation: pixels `(y, x)` sit `dil·(y·pitch + x)` after the lane base.
    pub dil: usize,
    /// Power-of-two block holding one channel of the original raster.
    pub block: usize,
    /// Base slot of every lane within a ciphertext.
    pub lanes: Vec<usize>,
    pub n_ct: usize,
}

impl Geometry {
    pub fn lanes_per_ct(&self) -> usize {
        self.lanes.len()
    }

    /// Offset of pixel (y, x) from its lane base.
    pub fn offset(&self, y: usize, x: usize) -> usize {
        self.dil * (y * self.pitch + x)
    }

    /// Every pixel offset of a lane, row-major.
    pub fn offsets(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.h).flat_map(move |y| (0..self.w).map(move |x| self.offset(y, x)))
    }

    /// The global lanes needed for `channels`, rounded up to whole ciphertexts.
    pub fn with_channels(mut self, channels: usize) -> Self {
        self.n_ct = channels.div_ceil(self.lanes_per_ct()).max(1);
        self
    }
}

/// A spatial tensor's geometry plus which channel sits in which global lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpatialLayout {
    pub geom: Geometry,
    /// Channel in each global lane `Λ = t·L + λ` (`None` = empty).
    pub chan_at: Vec<Option<usize>>,
}

impl SpatialLayout {
    pub fn new(geom: Geometry, chan_at: Vec<Option<usize>>) -> Self {
        debug_assert_eq!(chan_at.len(), geom.n_ct * geom.lanes_per_ct());
        Self { geom, chan_at }
    }

    /// Every placement `(ciphertext, lane base)` of each of `channels` channels.
    pub fn placements(&self, channels: usize) -> Vec<Vec<(usize, usize)>> {
        let l = self.geom.lanes_per_ct();
        let mut places = vec![Vec::new(); channels];
        for (g, c) in self.chan_at.iter().enumerate() {
            if let Some(c) = c {
                places[*c].push((g / l, self.geom.lanes[g % l]));
            }
        }
        places
    }

    /// Slot of element `(c, y, x)` in its first placement.
    pub fn slot_of(
        &self,
        places: &[Vec<(usize, usize)>],
        c: usize,
        y: usize,
        x: usize,
    ) -> (usize, usize) {
        let (t, base) = places[c][0];
        (t, base + self.geom.offset(y, x))
    }
}

/// An assignment of `channels` channels to global lanes in the order given by `order`
/// (`order[Λ]` = channel), padded with empty lanes to whole ciphertexts.
pub fn assign(order: &[usize], geom: &Geometry) -> Vec<Option<usize>> {
    let mut v: Vec<Option<usize>> = order.iter().map(|&c| Some(c)).collect();
    v.resize(geom.n_ct * geom.lanes_per_ct(), None);
    v
}

/// Group-interleaved channel order with interleave unit `u`: channel `j` of group `gi`
/// (`s` channels per group) goes to `Λ = ((j / u)·g + gi)·u + j mod u`. `u = 1` puts the
/// groups' members at stride `g`; `u = s` is the plain (contiguous) order.
pub fn group_order(channels: usize, groups: usize, unit: usize) -> Vec<usize> {
    let s = channels / groups;
    let mut order = vec![0; channels];
    for gi in 0..groups {
        for j in 0..s {
            let lambda = ((j / unit) * groups + gi) * unit + j % unit;
            order[lambda] = gi * s + j;
        }
    }
    order
}

/// The lane shifts interlacing uses after pooling by `k` from dilation `old_dil`: sub-pixel
/// offsets `(u·old_dil)·pitch + v·old_dil`, `u, v < k`, row-major.
pub fn interlace_shifts(k: usize, old_dil: usize, pitch: usize) -> Vec<usize> {
    (0..k)
        .flat_map(|u| (0..k).map(move |v| u * old_dil * pitch + v * old_dil))
        .collect()
}

/// Geometry after average pooling by `k` and, if `interlace`, merging up to `k²` consecutive
/// ciphertexts into one (lanes of merged ciphertext `i` shifted by `shifts[i]`). Global lane
/// indices are preserved.
pub fn pooled(geom: &Geometry, k: usize, interlace: bool) -> (Geometry, Vec<usize>) {
    let mut g = geom.clone();
    g.h /= k;
    g.w /= k;
    g.dil *= k;
    if !interlace || geom.n_ct < 2 || k < 2 {
        return (g, vec![0]);
    }
    let shifts = interlace_shifts(k, geom.dil, geom.pitch);
    let merge = shifts.len().min(geom.n_ct);
    let shifts = shifts[..merge].to_vec();
    g.lanes = shifts
        .iter()
        .flat_map(|d| geom.lanes.iter().map(move |b| b + d))
        .collect();
    g.n_ct = geom.n_ct.div_ceil(merge);
    (g, shifts)
}
