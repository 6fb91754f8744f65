//! The unified NTT butterfly: Cooley–Tukey (forward) and Gentleman–Sande (inverse, optionally
//! with the fused ÷2) chosen per input, one modular multiplier, initiation interval 1.
//!
//! Ranges and steps are those of `hesim_sw::ring::{ct_butterfly, gs_butterfly,
//! gs_butterfly_half}`: inputs `x`, `y`, `w` in `[0, q)`, outputs in `[0, q)`. Two multipliers:
//! Shoup ([`Butterfly32`], [`Butterfly64`]: any odd q as an input, plus `w_shoup` the Shoup
//! quotient of `w` for the hardware word, `⌊w·2^W/q⌋`) and special-prime
//! ([`SpecialPrimeButterfly32`], [`SpecialPrimeButterfly64`]: q fixed, shift-add reduction,
//! see [`crate::special_prime`]).
//!
//! ```text
//! stage P (1 edge)      CT: a = x,         m = y
//!                       GS: a = x + y mod q, m = x − y mod q
//! multiplier (5 edges)  t = m·w mod q                     (a, control bits delayed alongside)
//! stage O (1 edge)      CT: (a + t mod q, a − t mod q)
//!                       GS: (a, t), or (a/2 mod q, t/2 mod q) with `halve`
//! ```
//!
//! Both modes have the same depth, so modes can change every cycle without collisions. The
//! `valid` bit travels with the data (rust-hdl registers have no reset, so validity is explicit);
//! registers power up at zero, so `valid_out` is low until the first input arrives.

use rust_hdl::prelude::*;

use crate::shoup::{SHOUP_LATENCY, ShoupMultiplier32, ShoupMultiplier64};
use crate::special_prime::{
    SPECIAL_PRIME_LATENCY, SpecialPrimeMultiplier32, SpecialPrimeMultiplier64,
};

/// Pipeline depth of either multiplier (they are built to match, so one template serves both).
pub const MULTIPLIER_LATENCY: usize = SHOUP_LATENCY;
const _: () = assert!(SPECIAL_PRIME_LATENCY == MULTIPLIER_LATENCY);

/// Clock edges from presenting an input (sampled at the first edge) to its result on the
/// outputs: stage P, the multiplier, stage O. The same for every variant and width.
pub const BUTTERFLY_LATENCY: usize = 1 + MULTIPLIER_LATENCY + 1;

// Kernels index arrays only with literals and loop variables (rust-hdl evaluates index text
// with its own tiny evaluator), so the last delay slot is passed to the template as `4`.
const _: () = assert!(MULTIPLIER_LATENCY == 5, "update `last_delay` below");

/// One template for every butterfly. `operands` lists the extra multiplier inputs that are
/// butterfly inputs too (Shoup: `w_shoup` and `q`), each registered in stage P alongside `w`;
/// `modulus` is where stage P reads q (the `q` input, or the special-prime multiplier's
/// constant `q_out`). Stage O always reads q from the multiplier's `q_out`, which is delayed
/// with the product.
macro_rules! unified_butterfly {
    (
        $(#[$doc:meta])* $name:ident, width: $w:tt, multiplier: $mul:ty, last_delay: $last:tt,
        operands: [$(($op:ident, $pre_op:ident, $op_doc:literal)),*],
        modulus: $($modulus:ident).+
    ) => {
        $(#[$doc])*
        #[derive(LogicBlock, Default, Debug)]
        pub struct $name {
            /// Pipeline clock.
            pub clock: Signal<In, Clock>,
            /// An input is presented this cycle.
            pub valid: Signal<In, Bit>,
            /// Gentleman–Sande (inverse NTT) instead of Cooley–Tukey.
            pub inverse: Signal<In, Bit>,
            /// With `inverse`: halve both outputs mod q (fused N^-1 scaling). Ignored for CT.
            pub halve: Signal<In, Bit>,
            /// First operand, in `[0, q)`.
            pub x: Signal<In, Bits<$w>>,
            /// Second operand, in `[0, q)`.
            pub y: Signal<In, Bits<$w>>,
            /// Twiddle, in `[0, q)`.
            pub w: Signal<In, Bits<$w>>,
            $(
                #[doc = $op_doc]
                pub $op: Signal<In, Bits<$w>>,
            )*
            /// The result of the input presented [`BUTTERFLY_LATENCY`] edges earlier is ready.
            pub valid_out: Signal<Out, Bit>,
            /// First result, in `[0, q)`.
            pub x_out: Signal<Out, Bits<$w>>,
            /// Second result, in `[0, q)`.
            pub y_out: Signal<Out, Bits<$w>>,
            // Stage P.
            input_sum: Signal<Local, Bits<$w>>,
            pre_a: DFF<Bits<$w>>,
            pre_m: DFF<Bits<$w>>,
            pre_w: DFF<Bits<$w>>,
            $( $pre_op: DFF<Bits<$w>>, )*
            pre_valid: DFF<Bit>,
            pre_inverse: DFF<Bit>,
            pre_halve: DFF<Bit>,
            // Multiplier and the values that wait for it.
            multiplier: $mul,
            a_delay: [DFF<Bits<$w>>; MULTIPLIER_LATENCY],
            valid_delay: [DFF<Bit>; MULTIPLIER_LATENCY],
            inverse_delay: [DFF<Bit>; MULTIPLIER_LATENCY],
            halve_delay: [DFF<Bit>; MULTIPLIER_LATENCY],
            // Stage O.
            a_plus_t: Signal<Local, Bits<$w>>,
            a_plus_q: Signal<Local, Bits<$w>>,
            t_plus_q: Signal<Local, Bits<$w>>,
            out_x: DFF<Bits<$w>>,
            out_y: DFF<Bits<$w>>,
            out_valid: DFF<Bit>,
        }

        impl Logic for $name {
            #[hdl_gen]
            fn update(&mut self) {
                dff_setup!(
                    self, clock, pre_a, pre_m, pre_w $(, $pre_op)*, pre_valid,
                    pre_inverse, pre_halve, out_x, out_y, out_valid
                );
                // Stage P. x + y < 2q < 2^W, so the sum needs no extra bit.
                self.input_sum.next = self.x.val() + self.y.val();
                if self.inverse.val() {
                    if self.input_sum.val() >= self.$($modulus).+.val() {
                        self.pre_a.d.next = self.input_sum.val() - self.$($modulus).+.val();
                    } else {
                        self.pre_a.d.next = self.input_sum.val();
                    }
                    if self.x.val() >= self.y.val() {
                        self.pre_m.d.next = self.x.val() - self.y.val();
                    } else {
                        self.pre_m.d.next =
                            self.x.val() + self.$($modulus).+.val() - self.y.val();
                    }
                } else {
                    self.pre_a.d.next = self.x.val();
                    self.pre_m.d.next = self.y.val();
                }
                self.pre_w.d.next = self.w.val();
                $( self.$pre_op.d.next = self.$op.val(); )*
                self.pre_valid.d.next = self.valid.val();
                self.pre_inverse.d.next = self.inverse.val();
                self.pre_halve.d.next = self.halve.val();

                // Multiplier: t = m·w mod q; q_out is q delayed alongside (or constant).
                self.multiplier.clock.next = self.clock.val();
                self.multiplier.x.next = self.pre_m.q.val();
                self.multiplier.w.next = self.pre_w.q.val();
                $( self.multiplier.$op.next = self.$pre_op.q.val(); )*
                self.a_delay[0].d.next = self.pre_a.q.val();
                self.valid_delay[0].d.next = self.pre_valid.q.val();
                self.inverse_delay[0].d.next = self.pre_inverse.q.val();
                self.halve_delay[0].d.next = self.pre_halve.q.val();
                for i in 0..MULTIPLIER_LATENCY {
                    self.a_delay[i].clock.next = self.clock.val();
                    self.valid_delay[i].clock.next = self.clock.val();
                    self.inverse_delay[i].clock.next = self.clock.val();
                    self.halve_delay[i].clock.next = self.clock.val();
                }
                for i in 1..MULTIPLIER_LATENCY {
                    self.a_delay[i].d.next = self.a_delay[i - 1].q.val();
                    self.valid_delay[i].d.next = self.valid_delay[i - 1].q.val();
                    self.inverse_delay[i].d.next = self.inverse_delay[i - 1].q.val();
                    self.halve_delay[i].d.next = self.halve_delay[i - 1].q.val();
                }

                // Stage O. With a, t < q < 2^(W-1) every sum below fits in W bits.
                self.a_plus_t.next =
                    self.a_delay[$last].q.val() + self.multiplier.product.val();
                self.a_plus_q.next =
                    self.a_delay[$last].q.val() + self.multiplier.q_out.val();
                self.t_plus_q.next = self.multiplier.product.val() + self.multiplier.q_out.val();
                self.out_valid.d.next = self.valid_delay[$last].q.val();
                if self.inverse_delay[$last].q.val() {
                    if self.halve_delay[$last].q.val() {
                        // v/2 mod q = v >> 1 for even v, (v + q) >> 1 for odd v (q is odd).
                        if self.a_delay[$last].q.val().get_bit(0) {
                            self.out_x.d.next = self.a_plus_q.val() >> 1;
                        } else {
                            self.out_x.d.next = self.a_delay[$last].q.val() >> 1;
                        }
                        if self.multiplier.product.val().get_bit(0) {
                            self.out_y.d.next = self.t_plus_q.val() >> 1;
                        } else {
                            self.out_y.d.next = self.multiplier.product.val() >> 1;
                        }
                    } else {
                        self.out_x.d.next = self.a_delay[$last].q.val();
                        self.out_y.d.next = self.multiplier.product.val();
                    }
                } else {
                    if self.a_plus_t.val() >= self.multiplier.q_out.val() {
                        self.out_x.d.next = self.a_plus_t.val() - self.multiplier.q_out.val();
                    } else {
                        self.out_x.d.next = self.a_plus_t.val();
                    }
                    if self.a_delay[$last].q.val() >= self.multiplier.product.val() {
                        self.out_y.d.next =
                            self.a_delay[$last].q.val() - self.multiplier.product.val();
                    } else {
                        self.out_y.d.next = self.a_plus_q.val() - self.multiplier.product.val();
                    }
                }
                self.valid_out.next = self.out_valid.q.val();
                self.x_out.next = self.out_x.q.val();
                self.y_out.next = self.out_y.q.val();
            }
        }
    };
}

unified_butterfly! {
    /// Unified butterfly on a 32-bit word with the Shoup multiplier: odd q < 2^31.
    Butterfly32,
    width: 32,
    multiplier: ShoupMultiplier32,
    last_delay: 4,
    operands: [
        (w_shoup, pre_w_shoup, "Shoup quotient `⌊w·2^W/q⌋` of the twiddle."),
        (q, pre_q, "Odd modulus below 2^(W-1); may change with every input.")
    ],
    modulus: q
}

unified_butterfly! {
    /// Unified butterfly on a 64-bit word: odd q < 2^63 by the range argument above
    /// (`hesim_sw::ring` stops at 2^62, so the tests cover q < 2^62, up to 2^62 − 57).
    Butterfly64,
    width: 64,
    multiplier: ShoupMultiplier64,
    last_delay: 4,
    operands: [
        (w_shoup, pre_w_shoup, "Shoup quotient `⌊w·2^W/q⌋` of the twiddle."),
        (q, pre_q, "Odd modulus below 2^(W-1); may change with every input.")
    ],
    modulus: q
}

unified_butterfly! {
    /// Unified butterfly on a 32-bit word for the fixed prime q = 2^31 − 2^19 + 1
    /// ([`crate::special_prime::SPECIAL_PRIME_32`]), shift-add reduction.
    SpecialPrimeButterfly32,
    width: 32,
    multiplier: SpecialPrimeMultiplier32,
    last_delay: 4,
    operands: [],
    modulus: multiplier.q_out
}

unified_butterfly! {
    /// Unified butterfly on a 64-bit word for the fixed prime q = 2^61 − 2^26 + 1
    /// ([`crate::special_prime::SPECIAL_PRIME_64`]), shift-add reduction.
    SpecialPrimeButterfly64,
    width: 64,
    multiplier: SpecialPrimeMultiplier64,
    last_delay: 4,
    operands: [],
    modulus: multiplier.q_out
}
