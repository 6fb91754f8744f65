//! Shoup modular multiplication by a constant (twiddle) with a precomputed quotient, built from
//! 16×16-bit partial products because rust-hdl multiplies nothing wider.
//!
//! For a word width `W`, modulus `q < 2^(W-1)`, twiddle `w < q` and its Shoup quotient
//! `w' = floor(w·2^W / q)`, the product of any `x < 2^W` is
//!
//! ```text
//! qhat = floor(x·w' / 2^W)          (high half of a full W×W product)
//! r    = (x·w − qhat·q) mod 2^W     (two low-half products)   ∈ [0, 2q)
//! out  = r ≥ q ? r − q : r          ∈ [0, q)
//! ```
//!
//! rust-hdl kernels have no `let`, no loops with computed array indices and no const-generic
//! arithmetic (`Bits<{2*W}>` is impossible), so both widths are stamped out by one
//! `macro_rules!` template from explicit partial-product tables: `(slot, x limb, y limb, shift)`.

use rust_hdl::prelude::*;

/// Pipeline depth of [`ShoupMultiplier32`] and [`ShoupMultiplier64`]: clock edges from the
/// inputs to `product`.
pub const SHOUP_LATENCY: usize = 5;

/// A register for one 16×16 partial product whose output is zero-extended to `WIDE` bits.
///
/// rust-hdl widens with `bit_cast`, which it emits as `(x & 128'hff..)` on a 32-bit `x` — a
/// Verilator WIDTH warning — and packed-struct field writes emit 64-bit part-select indices
/// (another WIDTH warning). This leaf states the extension in plain Verilog instead; its Rust
/// model is the same one-liner, and the whole datapath is co-simulated as Verilog anyway.
#[derive(LogicBlock, Default, Debug)]
pub struct ProductRegister<const WIDE: usize> {
    /// The 16×16 product.
    pub d: Signal<In, Bits<32>>,
    /// `d` from the previous rising edge, zero-extended.
    pub q: Signal<Out, Bits<WIDE>>,
    /// Clock.
    pub clock: Signal<In, Clock>,
}

impl<const WIDE: usize> Logic for ProductRegister<WIDE> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            self.q.next = bit_cast::<WIDE, 32>(self.d.val());
        }
    }

    fn connect(&mut self) {
        self.q.connect();
    }

    fn hdl(&self) -> Verilog {
        let extended = if WIDE > 32 {
            format!("{{{}'h0, d}}", WIDE - 32)
        } else {
            "d".to_string()
        };
        Verilog::Custom(format!(
            "initial begin\n   q = {WIDE}'h0;\nend\n\nalways @(posedge clock) begin\n   q <= {extended};\nend\n"
        ))
    }
}

macro_rules! shoup_multiplier {
    (
        $(#[$doc:meta])*
        $name:ident,
        width: $w:tt,
        double: $w2:tt,
        full_products: $full_n:tt,
        low_products: $low_n:tt,
        full: [$(($fk:tt, $fi:tt, $fj:tt, $fs:tt)),*],
        low: [$(($lk:tt, $li:tt, $lj:tt, $ls:tt)),*]
    ) => {
        $(#[$doc])*
        #[derive(LogicBlock, Default, Debug)]
        pub struct $name {
            /// Pipeline clock.
            pub clock: Signal<In, Clock>,
            /// Multiplicand, any value below 2^W.
            pub x: Signal<In, Bits<$w>>,
            /// Constant factor (twiddle), below `q`.
            pub w: Signal<In, Bits<$w>>,
            /// Shoup quotient `floor(w·2^W / q)`.
            pub w_shoup: Signal<In, Bits<$w>>,
            /// Modulus, odd, below 2^(W-1).
            pub q: Signal<In, Bits<$w>>,
            /// `x·w mod q` in `[0, q)`, [`SHOUP_LATENCY`] edges after the inputs.
            pub product: Signal<Out, Bits<$w>>,
            /// `q` delayed alongside `product`, so callers need no delay line of their own.
            pub q_out: Signal<Out, Bits<$w>>,
            // Stage 1: partial products of x·w' (all) and x·w (low half only).
            quotient_pp: [ProductRegister<$w2>; $full_n],
            low_pp: [ProductRegister<$w>; $low_n],
            q1: DFF<Bits<$w>>,
            quotient_sum: Signal<Local, Bits<$w2>>,
            /// The low half of x·w' only matters through its carries; Verilator's default
            /// `--unused-regexp` (`*unused*`) accepts deliberately dropped bits read here.
            unused_quotient_low: Signal<Local, Bit>,
            low_sum: Signal<Local, Bits<$w>>,
            // Stage 2: qhat = high half of x·w', x·w mod 2^W.
            qhat: DFF<Bits<$w>>,
            xw_low: DFF<Bits<$w>>,
            q2: DFF<Bits<$w>>,
            // Stage 3: low-half partial products of qhat·q.
            correction_pp: [ProductRegister<$w>; $low_n],
            xw_low3: DFF<Bits<$w>>,
            q3: DFF<Bits<$w>>,
            correction_sum: Signal<Local, Bits<$w>>,
            // Stage 4: lazy remainder in [0, 2q).
            lazy: DFF<Bits<$w>>,
            q4: DFF<Bits<$w>>,
            // Stage 5: reduced remainder in [0, q).
            reduced: DFF<Bits<$w>>,
            q5: DFF<Bits<$w>>,
        }

        impl Logic for $name {
            #[hdl_gen]
            fn update(&mut self) {
                dff_setup!(self, clock, q1, qhat, xw_low, q2, xw_low3, q3, lazy, q4, reduced, q5);
                // Stage 1.
                self.quotient_pp[0].clock.next = self.clock.val();
                self.quotient_pp[0].d.next =
                    self.x.val().get_bits::<16>(0) * self.w_shoup.val().get_bits::<16>(0);
                $(
                    self.quotient_pp[$fk].clock.next = self.clock.val();
                    self.quotient_pp[$fk].d.next = self.x.val().get_bits::<16>($fi)
                        * self.w_shoup.val().get_bits::<16>($fj);
                )*
                self.low_pp[0].clock.next = self.clock.val();
                self.low_pp[0].d.next =
                    self.x.val().get_bits::<16>(0) * self.w.val().get_bits::<16>(0);
                $(
                    self.low_pp[$lk].clock.next = self.clock.val();
                    self.low_pp[$lk].d.next =
                        self.x.val().get_bits::<16>($li) * self.w.val().get_bits::<16>($lj);
                )*
                self.q1.d.next = self.q.val();
                // Stage 2: every sum lands in a local of its exact width before it is sliced,
                // so rust-hdl's operand-width wrap and Verilog's context width agree.
                self.quotient_sum.next = self.quotient_pp[0].q.val()
                    $( + (self.quotient_pp[$fk].q.val() << $fs) )*;
                self.low_sum.next = self.low_pp[0].q.val()
                    $( + (self.low_pp[$lk].q.val() << $ls) )*;
                self.qhat.d.next = self.quotient_sum.val().get_bits::<$w>($w);
                self.unused_quotient_low.next = self.quotient_sum.val().get_bits::<$w>(0).any();
                self.xw_low.d.next = self.low_sum.val();
                self.q2.d.next = self.q1.q.val();
                // Stage 3.
                self.correction_pp[0].clock.next = self.clock.val();
                self.correction_pp[0].d.next =
                    self.qhat.q.val().get_bits::<16>(0) * self.q2.q.val().get_bits::<16>(0);
                $(
                    self.correction_pp[$lk].clock.next = self.clock.val();
                    self.correction_pp[$lk].d.next = self.qhat.q.val().get_bits::<16>($li)
                        * self.q2.q.val().get_bits::<16>($lj);
                )*
                self.xw_low3.d.next = self.xw_low.q.val();
                self.q3.d.next = self.q2.q.val();
                // Stage 4.
                self.correction_sum.next = self.correction_pp[0].q.val()
                    $( + (self.correction_pp[$lk].q.val() << $ls) )*;
                self.lazy.d.next = self.xw_low3.q.val() - self.correction_sum.val();
                self.q4.d.next = self.q3.q.val();
                // Stage 5.
                if self.lazy.q.val() >= self.q4.q.val() {
                    self.reduced.d.next = self.lazy.q.val() - self.q4.q.val();
                } else {
                    self.reduced.d.next = self.lazy.q.val();
                }
                self.q5.d.next = self.q4.q.val();
                self.product.next = self.reduced.q.val();
                self.q_out.next = self.q5.q.val();
            }
        }
    };
}

shoup_multiplier! {
    /// 32-bit Shoup multiplier (q < 2^31): 4 + 3 + 3 = 10 partial products of 16×16 bits.
    ShoupMultiplier32,
    width: 32,
    double: 64,
    full_products: 4,
    low_products: 3,
    full: [(1, 0, 16, 16), (2, 16, 0, 16), (3, 16, 16, 32)],
    low: [(1, 0, 16, 16), (2, 16, 0, 16)]
}

shoup_multiplier! {
    /// 64-bit Shoup multiplier (q < 2^63): 16 + 10 + 10 = 36 partial products of 16×16 bits.
    ShoupMultiplier64,
    width: 64,
    double: 128,
    full_products: 16,
    low_products: 10,
    full: [
        (1, 0, 16, 16), (2, 0, 32, 32), (3, 0, 48, 48),
        (4, 16, 0, 16), (5, 16, 16, 32), (6, 16, 32, 48), (7, 16, 48, 64),
        (8, 32, 0, 32), (9, 32, 16, 48), (10, 32, 32, 64), (11, 32, 48, 80),
        (12, 48, 0, 48), (13, 48, 16, 64), (14, 48, 32, 80), (15, 48, 48, 96)
    ],
    low: [
        (1, 0, 16, 16), (2, 0, 32, 32), (3, 0, 48, 48),
        (4, 16, 0, 16), (5, 16, 16, 32), (6, 16, 32, 48),
        (7, 32, 0, 32), (8, 32, 16, 48),
        (9, 48, 0, 48)
    ]
}
