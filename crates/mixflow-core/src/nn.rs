//! The trained networks (SPEC section 2, reference shapes): the velocity field v(x, t, e) and the
//! descriptor encoder E(c). Weights are initialised from the init seed on the CPU, so the same
//! seed gives the same network on every backend.

use crate::linear::{apply, apply_silu};
use crate::rng::{self, Rng};
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// How the velocity field sees time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum TimeEmbedding {
    /// t itself, one feature.
    #[default]
    Raw,
    /// sin and cos of 2^k·π·t for k = 0..7 (16 features).
    Sinusoidal,
}

impl TimeEmbedding {
    const FREQUENCIES: usize = 8;

    pub fn features(self) -> usize {
        match self {
            TimeEmbedding::Raw => 1,
            TimeEmbedding::Sinusoidal => 2 * Self::FREQUENCIES,
        }
    }

    /// `t`: [B, 1] -> [B, features].
    pub fn embed(self, t: Tensor<2>) -> Tensor<2> {
        match self {
            TimeEmbedding::Raw => t,
            TimeEmbedding::Sinusoidal => {
                let freqs: Vec<f32> = (0..Self::FREQUENCIES)
                    .map(|k| std::f32::consts::PI * 2f32.powi(k as i32))
                    .collect();
                let freqs = Tensor::<1>::from_floats(freqs.as_slice(), &t.device()).unsqueeze::<2>();
                let angles = t.matmul(freqs);
                Tensor::cat(vec![angles.clone().sin(), angles.cos()], 1)
            }
        }
    }
}

/// The velocity field's hidden activation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// SiLU, the SPEC's reference network (and the only one the fused CPU sampler and the
    /// advection shader compute).
    #[default]
    Silu,
    /// ELU (α = 1), as MixFlow-OOD's official network.
    Elu,
}

/// Shape of the velocity MLP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetShape {
    pub width: usize,
    pub hidden_layers: usize,
    pub time_embedding: TimeEmbedding,
    /// Re-feed the descriptor embedding to every layer after the first, the output included (as
    /// MixFlow-OOD's official network does).
    pub refeed: bool,
    pub activation: Activation,
    /// Width of the descriptor encoder (its output is the embedding e).
    pub encoder_width: usize,
}

impl Default for NetShape {
    fn default() -> Self {
        Self {
            width: 128,
            hidden_layers: 3,
            time_embedding: TimeEmbedding::Raw,
            refeed: false,
            activation: Activation::Silu,
            encoder_width: 128,
        }
    }
}

/// A linear layer drawn as PyTorch's default: weight and bias ~ U(-1/√fan_in, 1/√fan_in).
pub fn linear(d_in: usize, d_out: usize, rng: &mut Rng, device: &Device) -> Linear {
    let k = 1.0 / (d_in as f32).sqrt();
    let mut draw = |n: usize| -> Vec<f32> { (0..n).map(|_| (2.0 * rng::uniform(rng) - 1.0) * k).collect() };
    let weight = Tensor::<2>::from_data(TensorData::new(draw(d_in * d_out), [d_in, d_out]), device);
    let bias = Tensor::<1>::from_data(TensorData::new(draw(d_out), [d_out]), device);
    Linear {
        weight: Param::from_tensor(weight),
        bias: Some(Param::from_tensor(bias)),
    }
}

/// v(x, t, e): input [x, emb(t), e], `hidden_layers` SiLU (or ELU) layers, linear output of
/// size D; with `refeed`, every layer after the first also reads e.
#[derive(Module, Debug)]
pub struct VelocityField {
    layers: Vec<Linear>,
    #[module(skip)]
    time_embedding: TimeEmbedding,
    #[module(skip)]
    refeed: bool,
    #[module(skip)]
    activation: Activation,
}

impl VelocityField {
    pub fn new(dim: usize, embedding_dim: usize, shape: &NetShape, rng: &mut Rng, device: &Device) -> Self {
        let w = shape.width;
        let mut layers = vec![linear(
            dim + shape.time_embedding.features() + embedding_dim,
            w,
            rng,
            device,
        )];
        let refeed = shape.refeed && embedding_dim > 0;
        let hidden_in = if refeed { w + embedding_dim } else { w };
        for _ in 1..shape.hidden_layers {
            layers.push(linear(hidden_in, w, rng, device));
        }
        layers.push(linear(hidden_in, dim, rng, device));
        Self {
            layers,
            time_embedding: shape.time_embedding,
            refeed,
            activation: shape.activation,
        }
    }

    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// x: [B, D], t: [B, 1], e: [B, E] or none -> [B, D].
    pub fn forward(&self, x: Tensor<2>, t: Tensor<2>, e: Option<Tensor<2>>) -> Tensor<2> {
        let mut input = vec![x, self.time_embedding.embed(t)];
        input.extend(e.clone());
        let hidden = |layer: &Linear, x: Tensor<2>| match self.activation {
            Activation::Silu => apply_silu(layer, x),
            Activation::Elu => burn::tensor::activation::elu(apply(layer, x), 1.0),
        };
        let with_e = |h: Tensor<2>| match (&e, self.refeed) {
            (Some(e), true) => Tensor::cat(vec![h, e.clone()], 1),
            _ => h,
        };
        let mut h = hidden(&self.layers[0], Tensor::cat(input, 1));
        let last = self.layers.len() - 1;
        for layer in &self.layers[1..last] {
            h = hidden(layer, with_e(h));
        }
        apply(&self.layers[last], with_e(h))
    }
}

/// The velocity MLP as plain arrays for the particle-advection shader (`shaders/advect.wgsl`).
/// Time and conditioning are the same for every particle at a step, so their part of the first
/// layer (and of every re-fed layer) is folded into biases on the CPU: one first-layer bias per
/// Euler step, and the kernel multiplies only x.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlatField {
    pub dim: usize,
    pub width: usize,
    /// Layers of `width` outputs (the first included); the output layer follows them.
    pub hidden_layers: usize,
    pub steps: usize,
    /// x's rows of the first weight [dim × width], then per further hidden layer its weight
    /// [width × width] and bias [width], then the output weight [width × dim] and bias [dim];
    /// every weight row-major, input by output.
    pub net: Vec<f32>,
    /// [steps × width]: the first layer's bias with emb(t_k) and the conditioning folded in.
    pub step_bias: Vec<f32>,
}

/// The largest network a fixed-size evaluator of [`FlatField`]s takes (the display's advection
/// shader sizes its arrays at compile time): the renderer declares its own, and the live runs
/// receive them with each view request, so neither has to ask the other.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShaderLimits {
    pub max_width: usize,
    pub max_dim: usize,
}

impl ShaderLimits {
    pub fn fits(&self, field: &FlatField) -> bool {
        field.width <= self.max_width && (1..=self.max_dim).contains(&field.dim)
    }
}

impl VelocityField {
    /// The field for `steps` uniform Euler steps (t_k = k / steps, as [`crate::solve::integrate`])
    /// with one conditioning row `cond` (the descriptor embedding, and MixFlow-RF's w), read to
    /// the CPU.
    /// SiLU networks only (the kernels that read a flat field compute SiLU).
    pub fn flatten(&self, dim: usize, cond: Option<&[f32]>, steps: usize) -> FlatField {
        debug_assert_eq!(self.activation, Activation::Silu, "flat fields are SiLU networks");
        let read = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().expect("float weights");
        let parts = |l: &Linear| {
            let [d_in, d_out] = l.weight.dims();
            let bias = l.bias.as_ref().map_or(vec![0.0; d_out], |b| read(b.val().unsqueeze()));
            (read(l.weight.val()), bias, d_in, d_out)
        };
        let cond = cond.unwrap_or(&[]);
        // The bias of a layer whose rows from `from` on read `cond`, with that product added.
        let folded = |w: &[f32], bias: &mut [f32], from: usize, d_out: usize| {
            for (c, value) in cond.iter().enumerate() {
                for (j, b) in bias.iter_mut().enumerate() {
                    *b += value * w[(from + c) * d_out + j];
                }
            }
        };
        let (w0, b0, _, width) = parts(&self.layers[0]);
        let features = self.time_embedding.features();
        let mut base_bias = b0;
        folded(&w0, &mut base_bias, dim + features, width);
        let h = 1.0 / steps as f32;
        let mut step_bias = Vec::with_capacity(steps * width);
        for k in 0..steps {
            let t = Tensor::<2>::from_floats([[k as f32 * h]], &self.layers[0].weight.device());
            let emb = read(self.time_embedding.embed(t));
            step_bias.extend((0..width).map(|j| {
                base_bias[j]
                    + emb
                        .iter()
                        .enumerate()
                        .map(|(f, e)| e * w0[(dim + f) * width + j])
                        .sum::<f32>()
            }));
        }
        let mut net = w0[..dim * width].to_vec();
        let last = self.layers.len() - 1;
        // Every layer after the first, the output included, reads [h, e] with refeed.
        for layer in &self.layers[1..] {
            let (w, mut b, _, d_out) = parts(layer);
            if self.refeed {
                folded(&w, &mut b, width, d_out);
            }
            net.extend_from_slice(&w[..width * d_out]);
            net.extend(b);
        }
        FlatField {
            dim,
            width,
            hidden_layers: last,
            steps,
            net,
            step_bias,
        }
    }
}

/// E(c): c -> width -> width, ReLU between; shared by base and flow.
#[derive(Module, Debug)]
pub struct DescriptorEncoder {
    first: Linear,
    second: Linear,
}

impl DescriptorEncoder {
    pub fn new(descriptor_dim: usize, width: usize, rng: &mut Rng, device: &Device) -> Self {
        Self {
            first: linear(descriptor_dim, width, rng, device),
            second: linear(width, width, rng, device),
        }
    }

    pub fn forward(&self, c: Tensor<2>) -> Tensor<2> {
        self.forward_dropped(c, None)
    }

    /// With a dropout `mask` ([B, width] of 0 and 1/(1 − p), drawn by the caller from the
    /// training stream) on the hidden layer: training only; inference passes none.
    pub fn forward_dropped(&self, c: Tensor<2>, mask: Option<Tensor<2>>) -> Tensor<2> {
        let h = relu(apply(&self.first, c));
        let h = match mask {
            Some(mask) => h * mask,
            None => h,
        };
        apply(&self.second, h)
    }

    pub fn width(&self) -> usize {
        self.first.weight.dims()[1]
    }
}

/// A dropout mask [rows, width]: each entry 0 with probability `p`, else 1/(1 − p).
pub fn dropout_mask(rows: usize, width: usize, p: f64, rng: &mut Rng, device: &Device) -> Tensor<2> {
    let keep = 1.0 / (1.0 - p) as f32;
    let values = (0..rows * width)
        .map(|_| if (rng::uniform(rng) as f64) < p { 0.0 } else { keep })
        .collect();
    Tensor::<2>::from_data(TensorData::new(values, [rows, width]), device)
}

/// The velocity field with its descriptor encoder: the model of the baselines and of MixFlow-RF.
#[derive(Module, Debug)]
pub struct FlowModel {
    pub velocity: VelocityField,
    pub encoder: Option<DescriptorEncoder>,
}

impl FlowModel {
    /// `extra_inputs`: conditioning features beside the descriptor embedding (MixFlow-RF's w).
    pub fn new(
        dim: usize,
        descriptor_dim: usize,
        extra_inputs: usize,
        shape: &NetShape,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let encoder =
            (descriptor_dim > 0).then(|| DescriptorEncoder::new(descriptor_dim, shape.encoder_width, rng, device));
        let embedding_dim = if descriptor_dim > 0 { shape.encoder_width } else { 0 };
        let velocity = VelocityField::new(dim, embedding_dim + extra_inputs, shape, rng, device);
        Self { velocity, encoder }
    }

    /// v(x, t, [E(c), extra]).
    pub fn velocity(&self, x: Tensor<2>, t: Tensor<2>, c: Option<Tensor<2>>, extra: Option<Tensor<2>>) -> Tensor<2> {
        let e = match (&self.encoder, c) {
            (Some(enc), Some(c)) => Some(enc.forward(c)),
            _ => None,
        };
        let cond: Vec<Tensor<2>> = e.into_iter().chain(extra).collect();
        self.velocity
            .forward(x, t, (!cond.is_empty()).then(|| Tensor::cat(cond, 1)))
    }

    /// Parameter counts: (velocity field, descriptor encoder).
    pub fn param_counts(&self) -> (usize, usize) {
        (
            self.velocity.num_params(),
            self.encoder.as_ref().map_or(0, |e| e.num_params()),
        )
    }
}

/// A two-layer head input -> width -> output, ReLU between.
#[derive(Module, Debug)]
pub struct Head {
    hidden: Linear,
    out: Linear,
}

impl Head {
    pub fn new(d_in: usize, width: usize, d_out: usize, rng: &mut Rng, device: &Device) -> Self {
        Self {
            hidden: linear(d_in, width, rng, device),
            out: linear(width, d_out, rng, device),
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        apply(&self.out, relu(apply(&self.hidden, x)))
    }
}

/// MixFlow-OOD's descriptor-conditioned base p(z | c) = Σ_k π_k(c) N(z; μ_k(c), σ²): the shared
/// encoder e = E(c), the weights head h_p and the means head h_Θ (and, optionally, a head for a
/// learned diagonal log σ).
#[derive(Module, Debug)]
pub struct MixtureBase {
    pub encoder: DescriptorEncoder,
    pub weights: Head,
    pub means: Head,
    pub log_sigma: Option<Head>,
    #[module(skip)]
    pub components: usize,
    #[module(skip)]
    pub dim: usize,
    /// The fixed σ, used when no σ is learned.
    #[module(skip)]
    pub sigma: f32,
}

/// The base's parameters for a batch of descriptors.
pub struct MixtureParams {
    pub embedding: Tensor<2>,
    /// log π: [B, K].
    pub log_weights: Tensor<2>,
    /// μ: [B, K, D].
    pub means: Tensor<3>,
    /// σ: [B, K, D].
    pub sigmas: Tensor<3>,
}

impl MixtureParams {
    /// Parameters given per group (row g for group g), repeated to every row of the group:
    /// [G, ..] -> [rows, ..]. Differentiable: a row's gradient flows back to its group's row.
    pub fn per_row(self, groups: &[std::ops::Range<usize>]) -> Self {
        let device = self.embedding.device();
        let group_of_row: Vec<i64> = (0i64..)
            .zip(groups)
            .flat_map(|(g, rows)| rows.clone().map(move |_| g))
            .collect();
        let rows = group_of_row.len();
        let index = Tensor::<1, Int>::from_data(TensorData::new(group_of_row, [rows]), &device);
        Self {
            embedding: self.embedding.select(0, index.clone()),
            log_weights: self.log_weights.select(0, index.clone()),
            means: self.means.select(0, index.clone()),
            sigmas: self.sigmas.select(0, index),
        }
    }
}

impl MixtureBase {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        descriptor_dim: usize,
        dim: usize,
        components: usize,
        sigma: f32,
        learn_sigma: bool,
        width: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let encoder = DescriptorEncoder::new(descriptor_dim, width, rng, device);
        let weights = Head::new(width, width, components, rng, device);
        let means = Head::new(width, width, components * dim, rng, device);
        let log_sigma = learn_sigma.then(|| Head::new(width, width, components * dim, rng, device));
        Self {
            encoder,
            weights,
            means,
            log_sigma,
            components,
            dim,
            sigma,
        }
    }

    /// μ(e) reshaped to [B, K, D].
    pub fn means_of(&self, e: Tensor<2>) -> Tensor<3> {
        let b = e.dims()[0];
        self.means.forward(e).reshape([b, self.components, self.dim])
    }

    pub fn params(&self, c: Tensor<2>) -> MixtureParams {
        self.params_dropped(c, None)
    }

    /// [`Self::params`] with a dropout mask on the encoder's hidden layer (training only).
    pub fn params_dropped(&self, c: Tensor<2>, mask: Option<Tensor<2>>) -> MixtureParams {
        let e = self.encoder.forward_dropped(c, mask);
        let b = e.dims()[0];
        let log_weights = burn::tensor::activation::log_softmax(self.weights.forward(e.clone()), 1);
        let means = self.means_of(e.clone());
        let sigmas = match &self.log_sigma {
            // Offset so that a fresh head starts near the fixed σ.
            Some(head) => (head.forward(e.clone()).reshape([b, self.components, self.dim]) + self.sigma.ln()).exp(),
            None => Tensor::<3>::full([b, self.components, self.dim], self.sigma, &e.device()),
        };
        MixtureParams {
            embedding: e,
            log_weights,
            means,
            sigmas,
        }
    }
}

/// MixFlow-RF's κ-FC encoder E_φ(κ) -> (μ, log σ²): a diagonal Gaussian per κ, no time input.
#[derive(Module, Debug)]
pub struct KappaEncoder {
    first: Linear,
    second: Linear,
    out: Linear,
    #[module(skip)]
    dim: usize,
}

impl KappaEncoder {
    pub fn new(kappa_dim: usize, dim: usize, width: usize, rng: &mut Rng, device: &Device) -> Self {
        Self {
            first: linear(kappa_dim, width, rng, device),
            second: linear(width, width, rng, device),
            out: linear(width, 2 * dim, rng, device),
            dim,
        }
    }

    /// (μ, log σ²), each [B, D].
    pub fn forward(&self, kappa: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = apply_silu(&self.second, apply_silu(&self.first, kappa));
        let out = apply(&self.out, h);
        let b = out.dims()[0];
        (
            out.clone().slice([0..b, 0..self.dim]),
            out.slice([0..b, self.dim..2 * self.dim]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    /// The base run once per group and repeated to the rows gives what running it on every row
    /// gives: the same parameters, and the same gradients for the base's weights.
    #[test]
    fn per_group_parameters_repeated_to_rows_equal_per_row_parameters() {
        let device = Device::flex().autodiff();
        let mut rng = rng::seeded(11, Stream::Eval, 0);
        let base = MixtureBase::new(3, 2, 4, 0.5, true, 16, &mut rng, &device);
        let groups = [0..2, 2..5, 5..6];
        let group_descriptors = rng::normals(&mut rng, 3 * 3);
        let row_descriptors: Vec<f32> = groups
            .iter()
            .enumerate()
            .flat_map(|(g, rows)| rows.clone().map(move |_| g))
            .flat_map(|g| group_descriptors[3 * g..3 * g + 3].to_vec())
            .collect();
        let weigh = rng::normals(&mut rng, 6 * 4 * 2);
        let run = |params: MixtureParams| {
            let weigh = Tensor::<3>::from_data(TensorData::new(weigh.clone(), [6, 4, 2]), &device);
            let loss = (params.means.clone() * weigh.clone()).sum()
                + (params.sigmas.clone() * weigh).sum()
                + params.log_weights.clone().sum_dim(1).sum()
                + params.embedding.clone().powi_scalar(2).sum();
            let grads = loss.backward();
            let flat = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
            let means = params.means.reshape([6, 8]);
            let gradient = base.encoder.first.weight.grad(&grads).unwrap();
            (
                flat(means),
                flat(params.log_weights),
                flat(params.embedding),
                flat(gradient),
            )
        };
        let tensor =
            |values: Vec<f32>, rows: usize| Tensor::<2>::from_data(TensorData::new(values, [rows, 3]), &device);
        let per_row = run(base.params(tensor(row_descriptors, 6)));
        let per_group = run(base.params(tensor(group_descriptors.clone(), 3)).per_row(&groups));
        for (what, a, b) in [
            ("means", &per_row.0, &per_group.0),
            ("log weights", &per_row.1, &per_group.1),
            ("embedding", &per_row.2, &per_group.2),
            ("encoder gradient", &per_row.3, &per_group.3),
        ] {
            assert_eq!(a.len(), b.len());
            for (a, b) in a.iter().zip(b) {
                assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "{what}: {a} vs {b}");
            }
        }
    }
}
