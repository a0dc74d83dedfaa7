//! Euler sampling without gradients, fused on the CPU: the velocity MLP in its flat form
//! ([`FlatField`], the layout the advection shader reads too) evaluated block by block, the
//! layers of `width` outputs by a register-tile kernel on x86-64 with AVX-512 or AVX2 (`kernel.rs`,
//! else gemm),
//! SiLU in place with an exp that vectorises (`silu.rs`), and the particles split across the
//! machine's threads. burn's CPU backend evaluates the same network one operation at a time,
//! each a pass over memory into a new buffer; for sampling, where nothing needs a gradient, that
//! was most of the time (docs/PERFORMANCE.md). Training stays on burn.
// Unsafe code is denied in the workspace (Cargo.toml) and allowed here: the kernel's intrinsics
// behind a CPU-feature check, each block with its SAFETY comment.
#![allow(unsafe_code)]

use crate::nn::FlatField;

#[cfg(target_arch = "x86_64")]
mod kernel;

/// Rows evaluated together: a block's activations (256 × 128 floats) stay in the L2 cache.
const BLOCK: usize = 256;
/// Fewer particles than this per thread are not worth a thread (a thread costs tens of µs; 256
/// particles take a fraction of a millisecond per Euler step).
const MIN_PER_THREAD: usize = 256;

/// Integrates `x` ([n × dim], model space) from t = 0 to 1 by `field.steps` Euler steps, in
/// place. With `record`, the states after each step are returned (each [n × dim]).
pub fn euler(field: &FlatField, x: &mut [f32], record: bool) -> Vec<Vec<f32>> {
    euler_first(field, x, field.steps, record)
}

/// [`euler`] for the first `taken` of the field's steps only (from t = 0 to `taken / steps`):
/// the learned part of a hybrid sampler that hands over to another field at that time.
pub fn euler_first(field: &FlatField, x: &mut [f32], taken: usize, record: bool) -> Vec<Vec<f32>> {
    let taken = taken.min(field.steps);
    let dim = field.dim;
    let n = x.len() / dim;
    let threads = threads_for(n);
    let packed = Packed::new(field);
    let packed = &packed;
    if threads <= 1 {
        return euler_rows(field, packed, x, taken, record);
    }
    let rows_per = n.div_ceil(threads);
    let parts: Vec<Vec<Vec<f32>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = x
            .chunks_mut(rows_per * dim)
            .map(|chunk| scope.spawn(move || euler_rows(field, packed, chunk, taken, record)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("an Euler thread panicked"))
            .collect()
    });
    // Each thread recorded its own rows (none without `record`); stitch every step back together
    // in row order.
    let recorded = parts[0].len();
    (0..recorded)
        .map(|k| parts.iter().flat_map(|p| p[k].iter().copied()).collect())
        .collect()
}

fn threads_for(n: usize) -> usize {
    if cfg!(target_arch = "wasm32") {
        return 1;
    }
    let available = std::thread::available_parallelism().map_or(1, |t| t.get());
    available.min(n / MIN_PER_THREAD).max(1)
}

/// The weights of the layers with `width` outputs (the first, then the further hidden ones),
/// packed for the AVX2 kernel, where the CPU has it and the width suits it.
struct Packed {
    /// The kernel's instruction set and each layer of `width` outputs packed for it.
    #[cfg(target_arch = "x86_64")]
    wide: Option<(kernel::Isa, Vec<Vec<f32>>)>,
}

impl Packed {
    fn new(field: &FlatField) -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let (dim, width) = (field.dim, field.width);
            let isa = kernel::Isa::detect().filter(|isa| width.is_multiple_of(isa.panel()));
            let wide = isa.map(|isa| {
                let mut layers = vec![kernel::pack(&field.net[..dim * width], dim, width, isa.panel())];
                let mut offset = dim * width;
                for _ in 1..field.hidden_layers {
                    let w = &field.net[offset..offset + width * width];
                    layers.push(kernel::pack(w, width, width, isa.panel()));
                    offset += width * width + width;
                }
                (isa, layers)
            });
            Packed { wide }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = field;
            Packed {}
        }
    }

    /// out = SiLU(input · w + bias) for the `index`th layer of `width` outputs (w as in the
    /// field).
    #[allow(clippy::too_many_arguments)]
    fn hidden_layer(
        &self,
        index: usize,
        input: &[f32],
        w: &[f32],
        bias: &[f32],
        out: &mut [f32],
        rows: usize,
        d_in: usize,
        width: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        if let Some((isa, layers)) = &self.wide {
            // SAFETY: `wide` exists only where `Isa::detect` found the set.
            unsafe { isa.product(&input[..rows * d_in], &layers[index], bias, out, d_in, width) };
            crate::silu::forward(out);
            return;
        }
        let _ = index;
        layer(input, w, bias, out, rows, d_in, width);
        crate::silu::forward(out);
    }
}

/// One thread's share: block by block, every step of a block before the next block.
fn euler_rows(field: &FlatField, packed: &Packed, x: &mut [f32], taken: usize, record: bool) -> Vec<Vec<f32>> {
    let (dim, width) = (field.dim, field.width);
    let mut states = vec![Vec::with_capacity(if record { x.len() } else { 0 }); if record { taken } else { 0 }];
    let mut h = vec![0.0f32; BLOCK * width];
    let mut g = vec![0.0f32; BLOCK * width];
    let mut v = vec![0.0f32; BLOCK * dim];
    let dt = 1.0 / field.steps as f32;
    for block in x.chunks_mut(BLOCK * dim) {
        let rows = block.len() / dim;
        for k in 0..taken {
            let bias = &field.step_bias[k * width..(k + 1) * width];
            packed.hidden_layer(
                0,
                block,
                &field.net[..dim * width],
                bias,
                &mut h[..rows * width],
                rows,
                dim,
                width,
            );
            let mut offset = dim * width;
            for index in 1..field.hidden_layers {
                let (w, b) = field.net[offset..offset + width * width + width].split_at(width * width);
                packed.hidden_layer(
                    index,
                    &h[..rows * width],
                    w,
                    b,
                    &mut g[..rows * width],
                    rows,
                    width,
                    width,
                );
                std::mem::swap(&mut h, &mut g);
                offset += width * width + width;
            }
            let (w, b) = field.net[offset..offset + width * dim + dim].split_at(width * dim);
            layer(&h[..rows * width], w, b, &mut v[..rows * dim], rows, width, dim);
            for (xi, vi) in block.iter_mut().zip(&v[..rows * dim]) {
                *xi += vi * dt;
            }
            if record {
                states[k].extend_from_slice(block);
            }
        }
    }
    states
}

/// out [rows × d_out] = input [rows × d_in] · w [d_in × d_out] + bias, all row-major.
fn layer(input: &[f32], w: &[f32], bias: &[f32], out: &mut [f32], rows: usize, d_in: usize, d_out: usize) {
    crate::linear::affine(&mut out[..rows * d_out], input, w, &bias[..d_out], d_in);
}

#[cfg(test)]
mod tests {
    /// Each instruction set's kernel this CPU has against gemm's product, for every remainder
    /// of the row tiles and for the first layer's short inputs as well as the square hidden ones.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_register_tile_kernels_match_gemm() {
        use super::kernel::Isa;
        use crate::rng::{self, Stream};
        let mut rng = rng::seeded(3, Stream::Eval, 0);
        let sets = [Isa::Avx512, Isa::Avx2].into_iter().filter(|isa| match isa {
            Isa::Avx512 => is_x86_feature_detected!("avx512f"),
            Isa::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
        });
        for isa in sets {
            let shapes = [
                (256, 128, 128),
                (7, 2, 128),
                (11, 128, 32),
                (3, 3, 32),
                (1, 128, 128),
                (13, 128, 64),
            ];
            for (rows, d_in, d_out) in shapes {
                let input = rng::normals(&mut rng, rows * d_in);
                let w = rng::normals(&mut rng, d_in * d_out);
                let bias = rng::normals(&mut rng, d_out);
                let mut ours = vec![0.0; rows * d_out];
                let packed = super::kernel::pack(&w, d_in, d_out, isa.panel());
                // SAFETY: the CPU has the set (filtered above).
                unsafe { isa.product(&input, &packed, &bias, &mut ours, d_in, d_out) };
                let mut reference = vec![0.0; rows * d_out];
                super::layer(&input, &w, &bias, &mut reference, rows, d_in, d_out);
                let worst = ours
                    .iter()
                    .zip(&reference)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(worst < 1e-4, "{isa:?} {rows}×{d_in}×{d_out}: {worst}");
            }
        }
    }
}
