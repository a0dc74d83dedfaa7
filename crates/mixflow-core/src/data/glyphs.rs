//! A small built-in stroke font of capital letters for the `letters` family: each glyph is a set of
//! line segments in the unit box; points are drawn uniformly along the strokes by length.

use crate::rng::{Rng, normal, uniform};

type Segment = [[f32; 2]; 2];

/// The letters the font knows, in one-hot order.
pub const LETTERS: [char; 9] = ['A', 'E', 'H', 'K', 'M', 'T', 'V', 'X', 'F'];

/// The letter no training descriptor ever shows (its one-hot slot exists but is never set in training).
pub const UNSEEN: char = 'F';

fn strokes(letter: char) -> &'static [Segment] {
    match letter {
        'A' => &[
            [[0.0, 0.0], [0.5, 1.0]],
            [[0.5, 1.0], [1.0, 0.0]],
            [[0.25, 0.5], [0.75, 0.5]],
        ],
        'E' => &[
            [[0.0, 0.0], [0.0, 1.0]],
            [[0.0, 1.0], [0.9, 1.0]],
            [[0.0, 0.5], [0.7, 0.5]],
            [[0.0, 0.0], [0.9, 0.0]],
        ],
        'F' => &[
            [[0.0, 0.0], [0.0, 1.0]],
            [[0.0, 1.0], [0.9, 1.0]],
            [[0.0, 0.5], [0.7, 0.5]],
        ],
        'H' => &[
            [[0.0, 0.0], [0.0, 1.0]],
            [[1.0, 0.0], [1.0, 1.0]],
            [[0.0, 0.5], [1.0, 0.5]],
        ],
        'K' => &[
            [[0.0, 0.0], [0.0, 1.0]],
            [[0.0, 0.45], [0.9, 1.0]],
            [[0.3, 0.6], [0.9, 0.0]],
        ],
        'M' => &[
            [[0.0, 0.0], [0.0, 1.0]],
            [[0.0, 1.0], [0.5, 0.4]],
            [[0.5, 0.4], [1.0, 1.0]],
            [[1.0, 1.0], [1.0, 0.0]],
        ],
        'T' => &[[[0.0, 1.0], [1.0, 1.0]], [[0.5, 1.0], [0.5, 0.0]]],
        'V' => &[[[0.0, 1.0], [0.5, 0.0]], [[0.5, 0.0], [1.0, 1.0]]],
        'X' => &[[[0.0, 0.0], [1.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]],
        _ => panic!("no glyph for {letter}"),
    }
}

/// A point on `letter`, centred on the origin in a box of side 4, with stroke noise std 0.08.
pub fn point(letter: char, rng: &mut Rng) -> [f32; 2] {
    let segs = strokes(letter);
    let len = |s: &Segment| ((s[1][0] - s[0][0]).powi(2) + (s[1][1] - s[0][1]).powi(2)).sqrt();
    let total: f32 = segs.iter().map(len).sum();
    let mut u = uniform(rng) * total;
    let mut seg = &segs[segs.len() - 1];
    for s in segs {
        if u <= len(s) {
            seg = s;
            break;
        }
        u -= len(s);
    }
    let f = uniform(rng);
    let x = seg[0][0] + f * (seg[1][0] - seg[0][0]);
    let y = seg[0][1] + f * (seg[1][1] - seg[0][1]);
    [
        4.0 * (x - 0.5) + 0.08 * normal(rng),
        4.0 * (y - 0.5) + 0.08 * normal(rng),
    ]
}
