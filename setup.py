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
ament_python package; also pip-installable (see scripts/install.sh).

Runtime dependencies are deliberately few (requirements/runtime.txt): a
vehicle install needs neither torch nor the ``training`` package's
libraries. Pinned versions live in requirements/*.txt, not here.
"""
from glob import glob

from setuptools import find_packages, setup


PACKAGE = 'ros2_ssvif'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(
        include=[
            'ros2_ssvif',
            'ros2_ssvif.*',
            'calibration',
            'calibration.*',
            'training',
            'training.*',
            'simulation',
            'simulation.*',
            'evaluation',
            'evaluation.*',
        ]
    ),
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE}']),
        (f'share/{PACKAGE}', ['package.xml', 'LICENSE']),
        (f'share/{PACKAGE}/launch', glob('launch/*.launch.py')),
        (f'share/{PACKAGE}/config', glob('config/*.yaml') + glob('config/*.xml')),
        (f'share/{PACKAGE}/config/training', glob('config/training/*.yaml')),
        (f'share/{PACKAGE}/config/training/ablations', glob('config/training/ablations/*.yaml')),
        # the shipped default model (models/README.md is its model card)
        (
            f'share/{PACKAGE}/models',
            glob('models/*.onnx') + glob('models/*.yaml') + glob('models/*.md'),
        ),
    ],
    install_requires=[
        'setuptools',
        'numpy',
        'PyYAML',
        'onnxruntime',
        'rosbags',
        'tqdm',
        'scipy',
        'matplotlib',
        'pillow',
    ],
    extras_require={
        'training': [
            'torch',
            'kornia',
            'pytorch-msssim',
            'transformers',
            'onnx',
            'onnxscript',
            'scikit-image',
        ],
        # offline Cityscapes teachers for pseudo-labels (training.teachers): the TFLite
        # DeepLab runs on ai-edge-litert; never a runtime dependency
        'teachers': ['ai-edge-litert'],
    },
    zip_safe=True,
    maintainer='ros2_ssvif maintainers',
    maintainer_email='maintainers@ros2-ssvif.invalid',
    description='RGB + thermal registration, SSVIF fusion and segmentation for ROS 2',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'fusion_node = ros2_ssvif.fusion_node:main',
            'fusion_lifecycle_node = ros2_ssvif.fusion_lifecycle_node:main',
            'process_bag = ros2_ssvif.process_bag:main',
            'play_bag = ros2_ssvif.bag_player:main',
            'ssvif_build_engine = ros2_ssvif.build_engine:main',
            'calibrate = calibration.cli:main',
            'register = calibration.register_cli:main',
            'ssvif_make_synthetic = simulation.cli:main',
            'ssvif_train = training.cli:main',
            'ssvif_search_loss = training.caf.cli:main',
            'ssvif_train_segmenter = training.segmenter.cli:main',
            'ssvif_make_labels = training.labels.cli:main',
            'ssvif_export = training.export.cli:main',
            'evaluate_fusion = evaluation.cli:main',
            'evaluate_drive = evaluation.drive_quality:main',
            'ssvif_fuse = training.fuse.cli:main',
            'compare_fusion = evaluation.compare:main',
            'compare_segmentation = evaluation.seg_protocol:main',
            'evaluate_segmentation = evaluation.box_protocol:main',
        ],
    },
)
