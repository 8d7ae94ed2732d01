//! The backprop proofs: the fast f32 network against the literal f64 derivation, and every
//! BP-*, LOSS-*, OUT-*, SGD-* claim of the registry at the CI budget.

mod common;

#[path = "backprop/network.rs"]
mod network;
#[path = "backprop/training.rs"]
mod training;

claim_tests! { "backprop";
    // training procedure and SGD
    sgd_cost => "SGD-COST",
    sgd_fast => "SGD-FAST",
    sgd_escape => "SGD-ESCAPE",
    train_loop => "TRAIN-LOOP",
    bp_order => "BP-ORDER",
    // §7 eqs (1)–(17)
    bp_01 => "BP-01",
    bp_02 => "BP-02",
    bp_dep => "BP-DEP",
    bp_03 => "BP-03",
    bp_04 => "BP-04",
    bp_05 => "BP-05",
    bp_06 => "BP-06",
    bp_07 => "BP-07",
    loss_08 => "LOSS-08",
    loss_09 => "LOSS-09",
    loss_10 => "LOSS-10",
    out_11 => "OUT-11",
    out_12 => "OUT-12",
    bp_13 => "BP-13",
    bp_14 => "BP-14",
    bp_15 => "BP-15",
    bias_16 => "BIAS-16",
    sgd_17 => "SGD-17",
    bp_ex => "BP-EX",
    // experiments and extensions
    exp_sgd_speed => "EXP-SGD-SPEED",
    exp_sgd_escape => "EXP-SGD-ESCAPE",
    exp_sigmoid_vanish => "EXP-SIGMOID-VANISH",
    ext_sgd_unbiased => "EXT-SGD-UNBIASED",
    ext_softmax_ce => "EXT-SOFTMAX-CE",
    ext_bp_matrix => "EXT-BP-MATRIX",
    ext_bp_cost => "EXT-BP-COST",
    ext_sigmoid_vanish => "EXT-SIGMOID-VANISH",
}
