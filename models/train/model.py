"""The payload CNN (PyTorch definition; exported to ONNX by train.py)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 257  # bytes 0..255 + padding token 256
PAD = 256


class Conv1d(nn.Conv1d):
    """A 1-D convolution computed as a 2-D one over a [B, C, 1, L] tensor (same parameters, same
    state_dict as nn.Conv1d, so earlier weights load unchanged).

    Why: ONNX Runtime runs 4-D convolutions with its blocked-layout (NCHWc) kernels on x86-64
    with AVX2/AVX-512, and the exported model measured 1.3-1.4x faster through kronos than the same
    weights exported as 3-D Conv nodes; elsewhere both run as im2col + GEMM."""

    def forward(self, x):
        return F.conv2d(x, self.weight.unsqueeze(2), self.bias, stride=(1, self.stride[0]),
                        padding=(0, self.padding[0]), dilation=(1, self.dilation[0]), groups=self.groups)


class PayloadCNN(nn.Module):
    """Byte embedding -> 4 conv blocks (BN, ReLU, max-pool) -> [global max ++ global mean] -> MLP.

    Receptive field of the last conv layer is ~80 bytes; global pooling makes the decision
    position-independent, so an attack string anywhere in the first `input_length` bytes counts.
    Tensors between the embedding and the global pooling are [B, C, 1, L] (see Conv1d)."""

    def __init__(self, n_classes, emb=16, ch=(48, 64, 96), hidden=64, dropout=0.2):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, emb)
        c1, c2, c3 = ch
        self.conv1 = Conv1d(emb, c1, kernel_size=7, stride=2, padding=3)   # L/2
        self.bn1 = nn.BatchNorm2d(c1)
        self.conv2 = Conv1d(c1, c2, kernel_size=5, padding=2)              # after pool: L/4
        self.bn2 = nn.BatchNorm2d(c2)
        self.conv3 = Conv1d(c2, c3, kernel_size=5, padding=2)              # after pool: L/8
        self.bn3 = nn.BatchNorm2d(c3)
        self.conv4 = Conv1d(c3, c3, kernel_size=3, padding=2, dilation=2)
        self.bn4 = nn.BatchNorm2d(c3)
        self.drop = nn.Dropout(dropout)
        self.fc1 = nn.Linear(2 * c3, hidden)
        self.fc2 = nn.Linear(hidden, n_classes)

    def forward(self, payload):
        x = self.emb(payload).transpose(1, 2).unsqueeze(2)  # [B, E, 1, L]
        x = F.relu(self.bn1(self.conv1(x)))                  # [B, c1, 1, L/2]
        x = F.max_pool2d(x, (1, 2))                          # L/4
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.max_pool2d(x, (1, 2))                          # L/8
        x = F.relu(self.bn3(self.conv3(x)))
        x = F.relu(self.bn4(self.conv4(x))).flatten(2)       # [B, c3, L/8]
        x = torch.cat([torch.amax(x, dim=2), torch.mean(x, dim=2)], dim=1)
        x = self.drop(x)
        x = F.relu(self.fc1(x))
        return self.fc2(x)                                   # raw logits
