# Copyright 2026 ros2_ssvif contributors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Class names and colours for downstream nodes: colour mask, overlay, labels file.

The model file carries its class names and palette (``model_runner``); a
node downstream cannot read an ONNX file, so they are published as
``vision_msgs/LabelInfo`` (transient local) where vision_msgs is installed
and always written as ``<model>.labels.yaml`` next to the model (or under
``$ROS_HOME/ros2_ssvif/`` when that folder is read-only, e.g. a system
install). The YAML lists ``id``, ``name`` and ``color`` (RGB) per class.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from ros2_ssvif.safe_files import read_text_file
import yaml


LABELS_FORMAT = 'ros2_ssvif/labels'
LABELS_VERSION = 1


def palette_lut(palette) -> np.ndarray:
    """(256, 3) uint8 lookup table; ids beyond the palette are black."""
    lut = np.zeros((256, 3), np.uint8)
    pal = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)[:256]
    lut[: len(pal)] = pal
    return lut


def colorize_mask(mask: np.ndarray, palette) -> np.ndarray:
    """Class ids -> RGB using the model's palette (unknown ids black)."""
    lut = (
        palette
        if isinstance(palette, np.ndarray) and palette.shape == (256, 3)
        else palette_lut(palette)
    )
    return lut[mask]


def overlay(fused: np.ndarray, color_mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Return the colour mask blended over the fused image (rgb8)."""
    return cv2.addWeighted(color_mask, float(alpha), fused, 1.0 - float(alpha), 0.0)


def labels_dict(class_names, palette, model_name: str = '') -> dict:
    return {
        'format': LABELS_FORMAT,
        'version': LABELS_VERSION,
        'model': model_name,
        'classes': [{'id': i, 'name': str(n), 'color': [int(c) for c in palette[i]]}
                    for i, n in enumerate(class_names)],
    }


def labels_file_for(model_path: str | Path) -> Path:
    p = Path(model_path)
    return p.with_name(p.stem + '.labels.yaml')


def fallback_labels_dir() -> Path:
    return Path(os.environ.get('ROS_HOME') or Path.home() / '.ros') / 'ros2_ssvif'


def write_labels_file(model_path: str | Path, class_names, palette) -> Path:
    """
    Write (or keep, if identical) the labels YAML of a model; returns where it is.

    Falls back to ``$ROS_HOME/ros2_ssvif/`` when the model's folder is not
    writable; raises OSError only if neither place is.
    """
    model_path = Path(model_path)
    data = labels_dict(class_names, palette, model_path.name)
    text = (
        "# class ids of the model's segmentation mask (written by ros2_ssvif from its metadata)\n"
    )
    text += yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
    first = labels_file_for(model_path)
    last_error: OSError | None = None
    for target in (first, fallback_labels_dir() / first.name):
        try:
            if target.is_file() and target.read_text() == text:
                return target
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + f'.tmp{os.getpid()}')
            tmp.write_text(text)
            tmp.replace(target)
            return target
        except OSError as exc:
            last_error = exc
    raise OSError(f'cannot write the labels file next to {model_path} nor under '
                  f'{fallback_labels_dir()}: {last_error}')


def read_labels_file(path: str | Path) -> tuple[list[str], list[tuple[int, int, int]]]:
    """Return (class names, palette) of a labels file (for consumers of the node's masks)."""
    data = yaml.safe_load(read_text_file(path, 'labels file'))
    if not isinstance(data, dict) or data.get('format') != LABELS_FORMAT:
        raise ValueError(f'{path} is not a {LABELS_FORMAT} file')
    classes = sorted(data['classes'], key=lambda c: c['id'])
    return [c['name'] for c in classes], [tuple(c['color']) for c in classes]


def fill_label_info(msg, class_names, header=None, vision_class=None):
    """Fill a vision_msgs/LabelInfo (rclpy or rosbags type); ``vision_class`` builds one entry."""
    if header is not None:
        msg.header = header
    msg.class_map = [
        vision_class(class_id=i, class_name=str(n)) for i, n in enumerate(class_names)
    ]
    msg.threshold = 0.0
    return msg
