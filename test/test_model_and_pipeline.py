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

from types import SimpleNamespace

import numpy as np
import pytest
from ros2_ssvif.image_codec import array_to_fields, image_to_array
from ros2_ssvif.model_runner import FusionSegmenter, ModelError, open_session, resolve_providers
from ros2_ssvif.pipeline import colorize_mask, FrameError, FramePipeline
from ros2_ssvif.thermal import ThermalNormalizer
from toy_model import expected_outputs, write_toy_model


def image(arr, enc, sec=0, nsec=0):
    m = SimpleNamespace(**array_to_fields(arr, enc).__dict__)
    m.header = SimpleNamespace(
        stamp=SimpleNamespace(sec=sec, nanosec=nsec), frame_id='visible_optical_frame'
    )
    return m


def test_onnx_runtime_output_has_the_graphs_values(toy_model_path):
    model = FusionSegmenter(toy_model_path)
    rng = np.random.default_rng(0)
    # not a multiple of 8: padded and cropped back
    vis = rng.integers(0, 256, (37, 50, 3), dtype=np.uint8)
    thr = rng.random((37, 50), dtype=np.float32)
    fused, ids = model(vis, thr)
    ef, ei = expected_outputs(vis, thr)
    assert fused.shape == (37, 50, 3) and ids.shape == (37, 50)
    assert np.abs(fused.astype(int) - ef).max() <= 1 and np.array_equal(ids, ei)
    assert model.class_names[9] == 'car'


def test_fixed_size_models_get_resized_inputs(tmp_path):
    model = FusionSegmenter(write_toy_model(tmp_path / 'fixed.onnx', input_hw=(32, 48)))
    vis = np.full((64, 96, 3), 200, np.uint8)
    thr = np.zeros((64, 96), np.float32)
    thr[:, 48:] = 1.0
    fused, ids = model(vis, thr)
    assert fused.shape == (64, 96, 3)
    assert ids[:, :40].max() == 0 and ids[:, 56:].min() == 1


@pytest.mark.parametrize(
    'content,text', [(None, 'not found'), (b'\x00garbage' * 10, 'cannot load model')]
)
def test_missing_or_corrupt_model_is_a_clear_error(tmp_path, content, text):
    p = tmp_path / 'm.onnx'
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(ModelError, match=text):
        FusionSegmenter(p)


def test_model_without_metadata_is_refused(tmp_path):
    with pytest.raises(ModelError, match='metadata'):
        FusionSegmenter(write_toy_model(tmp_path / 'bare.onnx', metadata=False))


def test_visible_scaling_and_layout_run_inside_the_graph(toy_model_path):
    """
    The exported contract: uint8 RGB in, thermal float, uint8 RGB out.

    uint8 RGB (1,H,W,3) goes in as it is, thermal stays float, and the fused image comes out
    rounded as uint8 RGB (1,H,W,3): the runtime only slices it.
    """
    model = FusionSegmenter(toy_model_path)
    vis_in, thr_in = model.session.get_inputs()
    assert (vis_in.type, vis_in.shape[3]) == ('tensor(uint8)', 3)
    assert thr_in.type == 'tensor(float)'
    fused_out = model.session.get_outputs()[0]
    assert (fused_out.type, fused_out.shape[3]) == ('tensor(uint8)', 3)
    assert (
        model.contract == 'nhwc_uint8' and model.fused_layout == 'nhwc_uint8' and not model.notes
    )
    rng = np.random.default_rng(2)
    vis = rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    thr = rng.random((16, 24), dtype=np.float32)
    fused, ids = model(vis, thr)
    ef, ei = expected_outputs(vis, thr)
    assert fused.dtype == np.uint8 and np.abs(fused.astype(int) - ef).max() <= 1
    assert np.array_equal(ids, ei)


def test_old_contract_models_still_run_and_say_so(tmp_path):
    model = FusionSegmenter(write_toy_model(tmp_path / 'old.onnx', legacy=True))
    assert model.contract == 'nchw_float' and model.fused_layout == 'nchw_float'
    assert any('old input contract' in n for n in model.notes)
    rng = np.random.default_rng(1)
    vis = rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    thr = rng.random((16, 24), dtype=np.float32)
    fused, ids = model(vis, thr)
    ef, ei = expected_outputs(vis, thr)
    assert np.abs(fused.astype(int) - ef).max() <= 1 and np.array_equal(ids, ei)


def test_a_model_with_another_visible_type_is_refused(tmp_path):
    import onnx

    path = write_toy_model(tmp_path / 'int32.onnx')
    m = onnx.load(str(path))
    m.graph.input[0].type.tensor_type.elem_type = onnx.TensorProto.INT32
    onnx.save(m, str(path))
    with pytest.raises(ModelError, match='expected visible uint8'):
        FusionSegmenter(path)


def test_a_provider_onnx_runtime_leaves_out_is_noted(toy_model_path):
    import onnxruntime as ort

    with pytest.warns(UserWarning, match='CUDAExecutionProvider'):
        session, notes = open_session(ort, toy_model_path, ['CUDAExecutionProvider'],
                                      ort.SessionOptions())
    assert session.get_providers() == ['CPUExecutionProvider']
    assert notes == ['CUDAExecutionProvider was requested but ONNX Runtime did not use it; '
                     'running on CPUExecutionProvider']


def test_tensorrt_requested_on_a_cpu_build_runs_on_cpu_with_notes(toy_model_path):
    model = FusionSegmenter(toy_model_path, ['tensorrt', 'cuda', 'cpu'], device_id=1,
                            image_hw=(24, 32))
    assert model.providers == ['CPUExecutionProvider'] and model.engine_plan is None
    assert [n.split()[0] for n in model.notes] == ['TensorrtExecutionProvider',
                                                   'CUDAExecutionProvider']


def test_unavailable_providers_fall_back_with_notes():
    prov, notes = resolve_providers(['tensorrt', 'cuda', 'cpu'], ['CPUExecutionProvider'])
    assert prov == ['CPUExecutionProvider'] and len(notes) == 2


def test_pipeline_from_messages_to_outputs(toy_model_path):
    pipe = FramePipeline(
        FusionSegmenter(toy_model_path),
        normalizer=ThermalNormalizer('fixed', fixed_min=0, fixed_max=1000),
    )
    vis = np.full((24, 32, 3), 100, np.uint8)
    thr = np.zeros((24, 32), np.uint16)
    thr[:, 16:] = 1000  # hot right half -> class 1 there, fused brighter
    res = pipe.process(image(vis, 'bgr8', 5, 7), image(thr, 'mono16'))
    assert res.mask[:, :16].max() == 0 and res.mask[:, 16:].min() == 1
    assert res.fused[0, 0].tolist() == [50, 50, 50]
    assert res.fused[0, 31].tolist() == [178, 178, 178]
    header = SimpleNamespace(
        stamp=SimpleNamespace(sec=5, nanosec=7), frame_id='visible_optical_frame'
    )
    msgs = pipe.outputs(res, header, SimpleNamespace(  # what step publishes, without a node
        wants=lambda key: key in ('fused', 'mask'), new_message=lambda key, h: SimpleNamespace()))
    fused_msg, mask_msg = msgs['fused'], msgs['mask']
    assert (
        fused_msg.encoding == 'rgb8'
        and mask_msg.encoding == 'mono8'
        and fused_msg.header is header
    )
    assert np.array_equal(image_to_array(mask_msg), res.mask)
    assert pipe.stats.latency['infer'] and pipe.stats.latency['decode']


def test_pipeline_refuses_bad_frames_with_a_reason(toy_model_path):
    pipe = FramePipeline(FusionSegmenter(toy_model_path))
    vis = image(np.zeros((8, 8, 3), np.uint8), 'rgb8')
    with pytest.raises(FrameError) as e:
        pipe.process(
            image(np.zeros((8, 8), np.uint8), 'mono8'),
            image(np.zeros((8, 8), np.uint16), 'mono16'),
        )
    assert e.value.reason == 'bad_encoding'
    bad = image(np.zeros((8, 8), np.uint16), 'mono16')
    bad.data = bad.data[:10]
    with pytest.raises(FrameError) as e:
        pipe.process(vis, bad)
    assert e.value.reason == 'bad_image' and 'truncated' in str(e.value)


def test_colorize_mask_uses_the_palette():
    out = colorize_mask(
        np.array([[0, 1], [9, 200]], np.uint8), [(0, 0, 0), (128, 64, 128)] + [(1, 2, 3)] * 8
    )
    assert (
        out[0, 1].tolist() == [128, 64, 128]
        and out[1, 0].tolist() == [1, 2, 3]
        and out[1, 1].tolist() == [0, 0, 0]
    )


def test_the_labels_file_reads_back_what_the_node_writes(tmp_path):
    """read_labels_file is the reader of the file format write_labels_file owns."""
    from ros2_ssvif.classes import FMB_CLASSES, FMB_PALETTE
    from ros2_ssvif.labels import read_labels_file, write_labels_file

    path = write_labels_file(tmp_path / 'm.onnx', FMB_CLASSES, FMB_PALETTE)
    names, palette = read_labels_file(path)
    assert names == list(FMB_CLASSES)
    assert palette == [tuple(c) for c in FMB_PALETTE[:len(FMB_CLASSES)]]
    (tmp_path / 'other.yaml').write_text('format: something/else\n')
    with pytest.raises(ValueError, match='is not a'):
        read_labels_file(tmp_path / 'other.yaml')
