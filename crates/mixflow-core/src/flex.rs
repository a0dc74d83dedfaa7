//! Reading and writing the storage of burn's Flex tensors, for the operations this crate writes
//! for Flex itself (`linear`, `adam`): their elements as slices, written in place where a tensor
//! has one owner, and new tensors from vectors (written without zeroing them first).
// Unsafe code is denied in the workspace (Cargo.toml) and allowed here: a vector written without
// zeroing it first (its SAFETY comment says why that is sound).
#![allow(unsafe_code)]

use burn::backend::flex::FlexTensor;
use burn::tensor::{Shape, TensorData};
use std::mem::MaybeUninit;

pub(crate) fn dim(x: &FlexTensor, axis: usize) -> usize {
    x.layout().shape()[axis]
}

/// A contiguous tensor's own elements.
pub(crate) fn values(x: &FlexTensor) -> &[f32] {
    &x.storage()[..x.layout().num_elements()]
}

/// `x` itself where it can be written in place (its only owner, contiguous from offset 0), else
/// a contiguous copy.
pub(crate) fn writable(x: FlexTensor) -> FlexTensor {
    if x.is_unique() && x.is_contiguous() && x.layout().start_offset() == 0 {
        return x;
    }
    let x = contiguous(x);
    tensor(values(&x).to_vec(), x.layout().shape().clone())
}

pub(crate) fn contiguous(x: FlexTensor) -> FlexTensor {
    if x.is_contiguous() && x.layout().start_offset() == 0 {
        x
    } else {
        FlexTensor::from_data(x.into_data())
    }
}

pub(crate) fn tensor(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// A vector of `len` floats written by `fill`, which is handed them uninitialised (zeroing
/// outputs that are overwritten anyway was a tenth of a training step) and must write them all.
pub(crate) fn filled(len: usize, fill: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut values = Vec::with_capacity(len);
    fill(&mut values.spare_capacity_mut()[..len]);
    // SAFETY: `fill` wrote every one of the `len` elements (its callers' contract).
    unsafe { values.set_len(len) };
    values
}
