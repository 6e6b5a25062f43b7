//! Confidence bins for Gi\* results, with or without the false discovery rate correction.
//!
//! # Without FDR (`analytics.md` §1.2)
//!
//! `bin = sign(z) × level`, where level is 3 if p ≤ 0.01, 2 if p ≤ 0.05, 1 if p ≤ 0.10, else 0.
//!
//! # With FDR, as `ArcGIS` applies it (`analytics.md` §1.3, Esri `Stats.fdrTransform`)
//!
//! Benjamini–Hochberg step-up, run once per confidence level over the m valid p-values:
//!
//! 1. sort them, p₍₁₎ ≤ … ≤ p₍ₘ₎;
//! 2. for each α in (0.10, 0.05, 0.01): k\* is the largest k with p₍ₖ₎ ≤ α·k/m, and the
//!    cut-off is `t_α` = `p₍ₖ*₎` (no unit passes at that level when there is no such k);
//! 3. a unit's level is the strictest α with p ≤ `t_α`, else 0.
//!
//! z and p stay unadjusted; only the bin reflects FDR. Units with an undefined z (`None`) are
//! not counted in m and get bin 0. This is deliberately **not** `esda.fdr`, which returns one
//! cut-off, compares strictly and falls back to Bonferroni (`analytics.md` §10.2).
//!
//! Only p-values ≤ 0.10 can ever pass (p₍ₖ₎ ≤ 0.10·k/m ≤ 0.10), and they come first in sorted
//! order, so only those are sorted: their ranks among all m values are their ranks among
//! themselves. This keeps FDR over a 1.8-million-bin space-time cube cheap.

/// The confidence levels' α, from level 1 (90 %) to level 3 (99 %).
pub const ALPHAS: [f64; 3] = [0.10, 0.05, 0.01];

/// Confidence level 0..=3 of one p-value without correction (`analytics.md` §1.2).
pub fn level_uncorrected(p: f64) -> u8 {
    if p <= ALPHAS[2] {
        3
    } else if p <= ALPHAS[1] {
        2
    } else {
        u8::from(p <= ALPHAS[0])
    }
}

/// The FDR cut-offs `t_α` for α = 0.10, 0.05, 0.01 over the valid p-values (`None` or NaN
/// entries are skipped and not counted in m). A cut-off is `None` when no unit passes at that
/// level.
pub fn fdr_cutoffs(p: &[Option<f64>]) -> [Option<f64>; 3] {
    let m = p.iter().flatten().filter(|v| !v.is_nan()).count();
    let mut small: Vec<f64> = p
        .iter()
        .flatten()
        .copied()
        .filter(|v| *v <= ALPHAS[0])
        .collect();
    small.sort_unstable_by(f64::total_cmp);
    let mut cut = [None; 3];
    if m == 0 {
        return cut;
    }
    let m_f = m as f64;
    for (slot, alpha) in cut.iter_mut().zip(ALPHAS) {
        // Largest 1-based rank k with p(k) <= alpha * k / m.
        *slot = small
            .iter()
            .enumerate()
            .rev()
            .find(|(i, v)| **v <= alpha * (*i as f64 + 1.0) / m_f)
            .map(|(_, v)| *v);
    }
    cut
}

/// Confidence level 0..=3 of one p-value against FDR cut-offs from [`fdr_cutoffs`].
pub fn level_fdr(p: f64, cutoffs: &[Option<f64>; 3]) -> u8 {
    // Strictest level first.
    for (level, cut) in [(3u8, cutoffs[2]), (2, cutoffs[1]), (1, cutoffs[0])] {
        if cut.is_some_and(|t| p <= t) {
            return level;
        }
    }
    0
}

/// Bins −3..=3 for parallel z and p slices: `sign(z) × level`, with the FDR correction when
/// `fdr` is true. A unit whose z or p is `None` (undefined) gets bin 0.
pub fn bins(z: &[Option<f64>], p: &[Option<f64>], fdr: bool) -> Vec<i8> {
    let cutoffs = if fdr { fdr_cutoffs(p) } else { [None; 3] };
    z.iter()
        .zip(p)
        .map(|(z, p)| match (z, p) {
            (Some(z), Some(p)) if !z.is_nan() && !p.is_nan() => {
                let level = if fdr {
                    level_fdr(*p, &cutoffs)
                } else {
                    level_uncorrected(*p)
                };
                let level = level as i8;
                if *z > 0.0 {
                    level
                } else if *z < 0.0 {
                    -level
                } else {
                    0
                }
            }
            _ => 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_esda_example_is_plus_two_without_fdr_and_zero_with_it() {
        // analytics.md §10.2.
        let z = [
            -1.397_276_26,
            -0.289_177_62,
            0.650_649_64,
            -0.289_177_62,
            1.234_520_88,
            2.024_243_31,
        ];
        let p = [
            0.162_331, 0.772_445, 0.515_273, 0.772_445, 0.217_009, 0.042_945,
        ];
        let z: Vec<_> = z.into_iter().map(Some).collect();
        let p: Vec<_> = p.into_iter().map(Some).collect();
        assert_eq!(bins(&z, &p, false), vec![0, 0, 0, 0, 0, 2]);
        assert_eq!(bins(&z, &p, true), vec![0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn fdr_steps_up_from_the_largest_passing_rank() {
        // m = 4; at 0.05 the thresholds are 0.0125, 0.025, 0.0375, 0.05. p(3) = 0.03 passes,
        // so everything up to 0.03 passes even though p(2) = 0.028 > 0.025.
        let p = [Some(0.001), Some(0.028), Some(0.03), Some(0.9)];
        let cut = fdr_cutoffs(&p);
        assert_eq!(cut[1], Some(0.03));
        assert_eq!(cut[2], Some(0.001));
        assert_eq!(cut[0], Some(0.03));
        let z = vec![Some(3.0), Some(-2.2), Some(2.1), Some(0.1)];
        assert_eq!(bins(&z, &p, true), vec![3, -2, 2, 0]);
    }

    #[test]
    fn undefined_units_are_not_counted_and_get_bin_zero() {
        let p = [Some(0.02), None, Some(f64::NAN)];
        let z = [Some(2.3), None, Some(f64::NAN)];
        // m = 1, so 0.02 passes at 0.05 but not 0.01.
        assert_eq!(bins(&z, &p, true), vec![2, 0, 0]);
        assert_eq!(fdr_cutoffs(&[None, None]), [None, None, None]);
    }

    #[test]
    fn uncorrected_levels_include_their_bounds() {
        assert_eq!(level_uncorrected(0.01), 3);
        assert_eq!(level_uncorrected(0.05), 2);
        assert_eq!(level_uncorrected(0.1), 1);
        assert_eq!(level_uncorrected(0.100_000_1), 0);
    }
}
