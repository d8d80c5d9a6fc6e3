// Every default of the engine, in one place.
//
// The defaults reproduce the reference CONCORD (Python package concord-sc 1.0.13)
// unless a comment says otherwise and why. The R front end mirrors them in
// RunConcord()'s formals; tests/testthat/test-defaults.R checks that the two agree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace concord {

enum class Norm { layer, batch, none };
enum class Metric { euclidean, cosine };
// How the embeddings of several modalities (RNA, proteins) make one: summed (Concerto's
// choice) or concatenated, or trained with CLIP between the modalities of a cell and
// concatenated (the SSL benchmark's three fusions).
enum class Fusion { sum, concat, clip };

struct SamplerOptions {
  int batch_size = 256;
  // Share of a batch drawn from the kNN neighbourhood of one core cell (0 = off).
  double p_intra_knn = 0.0;
  // Share of a batch (and of its kNN part) drawn from the batch's own domain.
  double p_intra_domain = 1.0;
  // Batches with fewer distinct cells than this are dropped, as in the reference.
  int min_batch_size = 4;
  // At least this many batches per epoch: each domain's count is scaled up by a common
  // factor to reach it. Not in the reference; see TrainOptions::min_steps.
  int min_batches_per_epoch = 0;
};

struct KnnOptions {
  Metric metric = Metric::euclidean;
  // Exact (flat) search up to this many indexed points, IVF-Flat above it.
  int64_t exact_max = 20000;
  // IVF lists; 0 means sqrt(n), as in the reference.
  int nlist = 0;
  int nprobe = 10;
};

struct ModelOptions {
  int latent_dim = 100;
  std::vector<int> encoder_dims = {1000};
  Norm norm = Norm::layer;
  double dropout = 0.0;
  double leaky_slope = 0.1;
  // Whether the latent block ends in the activation, as CONCORD's does. The SSL
  // benchmark's encoder ends in its normalization: Linear -> BatchNorm.
  bool latent_activation = true;
  // Classes of the optional classification head on the embedding (0: no head).
  int n_classes = 0;
  // Optional decoder: reconstructs a cell's expression from its embedding and a learned
  // embedding of its domain; decoding every cell as one domain corrects batch effects.
  bool decoder = false;
  std::vector<int> decoder_dims = {1000};
  int n_domains = 0;
  int domain_dim = 8;
  // Multimodal input: how many of the input's features (columns, in order) each
  // modality holds, e.g. {2000, 10} for 2,000 genes then 10 proteins. Empty: one
  // modality. Each modality has its own encoder (encoder_dims, latent_dim each).
  std::vector<int> modality_features;
  // Sum scored best against the labels on CITE-seq data (bench/README.md, "Multimodal").
  Fusion fusion = Fusion::sum;
};

// balanced: each mini-batch holds about equal numbers of cells of every domain
// (scCRAFT's sampler).
enum class SamplerKind { concord, uniform, balanced };

// The self-supervised methods of the SSL benchmark (Richter et al. 2025; reference code
// scAugmentBench over LightlySSL). Defaults are the benchmark's configuration.
struct SslOptions {
  // Projection size relative to the representation: divided by it for the contrastive
  // methods (SimCLR, MoCo, SimSiam, NNCLR), multiplied for the others; 0 takes each
  // method's benchmark value (1 for SimCLR, MoCo, NNCLR; 2 for SimSiam; 4 for BYOL,
  // VICReg, Barlow Twins).
  int projection_factor = 0;
  // Entries of MoCo's negative queue and of NNCLR's support set.
  int queue_size = 2048;
  // Momentum of the target encoder (MoCo, BYOL), raised from start to end over the
  // epochs on a cosine schedule.
  double momentum_start = 0.996;
  double momentum_end = 1.0;
  // VICReg's invariance, variance and covariance weights (the benchmark's 5, 5, 1).
  double vicreg_invariance = 5.0;
  double vicreg_variance = 5.0;
  double vicreg_covariance = 1.0;
  // Barlow Twins' weight of the off-diagonal (redundancy) term.
  double barlow_lambda = 5e-3;
};

// The variational autoencoders: scVI / BA-scVI (method "bascvi") and scCRAFT ("sccraft").
// The online encoder is their trunk; these size what the methods add to it. Defaults are
// BA-scVI's; R passes scCRAFT's.
struct VaeOptions {
  // Dimensions of the Gaussian latent (the embedding is its mean).
  int latent_dim = 10;
  // Hidden widths of the decoder (BA-scVI only; scCRAFT's decoder is fixed by its paper).
  std::vector<int> decoder_dims = {512, 512};
  double kl_weight = 1.0;
  // Batch discriminators trained against the encoder; false with "bascvi" is plain scVI,
  // whose decoder reads the batch's one-hot code instead.
  bool adversarial = true;
  // Weight of the discriminators' cross-entropy that the autoencoder maximises (BA-scVI's
  // beta, scCRAFT's lambda_D), and epochs trained before it enters the loss.
  double adversary_weight = 10.0;
  int adversary_warmup_epochs = 0;
  // The discriminators' own Adam and updates per autoencoder update.
  double discriminator_lr = 1e-2;
  double discriminator_weight_decay = 1e-5;
  int discriminator_steps = 1;
  int discriminator_hidden = 128;
  // Batches (domains): the width of the one-hot codes and of the discriminators' output.
  int n_domains = 0;
  // scCRAFT: weights of the cosine reconstruction and dual-resolution triplet losses, the
  // triplets' margin and anchors drawn per low-resolution cluster of a batch. Each cell's
  // label (train()'s labels) is low * n_high + high, or -1 for none.
  double cosine_weight = 20.0;
  double triplet_weight = 1.0;
  double triplet_margin = 5.0;
  int triplets_per_cluster = 15;
  int n_high = 1;
};

// Concerto (Yang et al. 2022; reference code melobio/Concerto-reproducibility): the
// attention teacher's sizes. The student is the online encoder's first Linear
// (ModelOptions::latent_dim wide) followed by the method's own head.
struct ConcertoOptions {
  // Width of each gene's embedding (the paper's d).
  int embedding_dim = 128;
  // Dropout before the final Dense layer of teacher and student: the only augmentation.
  double dropout = 0.2;
  // Fine-tuning only: weight (the paper's lambda) of the domain-adaptation consistency
  // loss on unlabelled cells; 0 trains on labelled cells alone.
  double consistency = 0;
};

struct TrainOptions {
  // "concord", "concerto", one of the SSL benchmark's "simclr", "moco", "simsiam",
  // "nnclr", "byol", "vicreg", "barlowtwins", or a variational autoencoder "bascvi",
  // "sccraft".
  std::string method = "concord";
  SslOptions ssl;
  VaeOptions vae;
  ConcertoOptions concerto;
  // CONCORD's dataset- and kNN-aware batches, or uniform batches (a fresh permutation
  // cut into full batches, as a shuffling DataLoader with drop_last).
  SamplerKind sampler_kind = SamplerKind::concord;
  ModelOptions model;
  SamplerOptions sampler;
  KnnOptions knn;

  int epochs = 15;
  // Adam, no weight decay. The reference uses 1e-2; 1e-3 (with min_steps 400) kept cell
  // types better on both real multi-batch datasets (kang_ctrl_5donors 0.789 -> 0.865
  // Total, kang_ifnb_muscat 0.815 -> 0.829) and kept the simulated loop (bench/README.md,
  // "Learning rate and steps (fourth round)").
  double lr = 1e-3;
  // Learning rate multiplier per epoch: the reference multiplies by 0.97 at each
  // scheduler step and steps twice per epoch.
  double lr_decay = 0.97 * 0.97;
  // Epochs between learning-rate decays (the SSL benchmark: 0.1 every 10 epochs).
  int lr_step_epochs = 1;
  // L2 penalty added to every gradient, as PyTorch's Adam(weight_decay).
  double weight_decay = 0.0;
  double temperature = 0.4;
  // Hard-negative weight; 0 gives plain NT-Xent. The reference uses 1. With batches
  // drawn from one domain, every negative is a same-domain cell, and weighting the
  // closest ones up pushes similar cells of a domain apart: measured on two real
  // datasets, 0 keeps cell types better and mixes batches better, increasingly so the
  // longer training runs (bench/README.md).
  double beta = 0.0;
  // Weight of the alignment of domains within clusters of the embedding
  // (cluster_align.h), applied after the warm-up epochs; 0 (the reference) leaves it out.
  // At 7 both real multi-batch datasets pass Harmony and the simulated structures stay
  // whole (bench/README.md, ninth round).
  double align_weight = 7.0;
  // k-means clusters of that alignment.
  int align_clusters = 20;
  // Weight of the alignment of domains within each cell's neighbourhood (local_align.h),
  // applied after the warm-up epochs beside the clusters'; 0 leaves it out. At 50 the
  // simulated tree's and trajectory's batches mix within their segments and
  // kang_ctrl_5donors keeps its cell types better; domains that differ in biology mix a
  // little past their cell types (bench/README.md, eleventh to thirteenth rounds).
  double align_local_weight = 50.0;
  // Share of each domain's sampled cells in a neighbourhood of that alignment.
  double align_local_share = 0.03;
  // Cells (over all ranks) whose embeddings each refresh of the alignments reads.
  int align_sample = 20000;
  // Weight of the classifier's cross-entropy (labelled cells of a batch) in the loss.
  double classifier_weight = 1.0;
  // Weight of the decoder's mean squared reconstruction error in the loss.
  double decoder_weight = 1.0;
  // Probability that a stored (non-zero) value is zeroed in a view.
  double element_mask = 0.4;
  // Probability that a gene is dropped from a view, drawn once per batch.
  double feature_mask = 0.3;
  // kNN neighbourhood size for the sampler; 0 means min(1000, n / 10).
  int knn_k = 0;
  // Epochs trained before the kNN graph is built from the model's own embedding.
  int warmup_epochs = 2;
  // Fewer optimizer steps than this in total and each epoch draws more batches. The
  // reference trains floor(n / batch_size) steps per epoch, only a few dozen steps on
  // a thousand cells, which leaves small data under-trained (bench/README.md measures
  // it). At lr 1e-3, 400 kept cell types better than 1000 (bench/README.md). Data above
  // about 7,000 cells already has more steps and is unaffected.
  int min_steps = 400;
  uint64_t seed = 0;
  // 0 means every core the machine reports.
  int threads = 0;
  // "cpu" or "cuda".
  std::string device = "cpu";
  // On the CPU, run the first layer and Adam through the sparse and fused kernels;
  // false takes LibTorch's dense path, the one used on other devices (tests compare
  // the two).
  bool sparse_kernels = true;
  // Cells per forward pass when encoding all cells after training.
  int inference_batch_size = 1024;
};

}  // namespace concord
