//! The post's runner: every claim of "深度神经网络简介" against our code and its planted
//! bugs, judged by the catalogue appendix (`dnn-proofs --help`).

fn main() -> std::process::ExitCode {
    dnn_proofs::claims::runner::main(dnn_proofs::post::suite())
}
