"""The same user code on ``openvino`` and on ``arrayrt``: an OpenVINO user's script, with only the
import changed, must run and give the same answers.

Each scenario takes the library module (``openvino`` or ``arrayrt``) and returns a dict of what a
user would look at; the test runs it with both and compares the dicts (arrays at CPU tolerances).
"""
from __future__ import annotations

import importlib
import io
import os
import warnings

import numpy as np
import pytest

ov = pytest.importorskip("openvino")
import arrayrt  # noqa: E402

DIGITS = os.path.join(os.path.dirname(arrayrt.__file__), "models", "digits", "digits_cnn.xml")


@pytest.fixture(scope="module")
def xml(tmp_path_factory):
    """The digits CNN with a static batch of 1, written by OpenVINO."""
    m = ov.Core().read_model(DIGITS)
    m.reshape([1, 1, 8, 8])
    path = tmp_path_factory.mktemp("parity") / "digits.xml"
    ov.save_model(m, str(path), compress_to_fp16=False)
    return str(path)


def _x(shape, seed=0):
    return np.random.default_rng(seed).random(tuple(shape), np.float32)


def basic(lib, xml):
    core = lib.Core()
    c = core.compile_model(core.read_model(xml), "CPU")
    i, o = c.input(0), c.output(0)
    x = _x(i.shape)
    r = c(x)
    return {"name": i.get_any_name(), "shape": list(i.shape), "pshape": str(i.get_partial_shape()),
            "type": i.get_element_type().get_type_name(), "by_port": r[o], "by_index": r[0],
            "by_name": r[o.get_any_name()], "n": len(r), "tuple": r.to_tuple()[0],
            "from_path": core.compile_model(xml, "CPU")([x])[0], "module_level": lib.compile_model(xml)({0: x})[0]}


def request(lib, xml):
    c = lib.Core().compile_model(xml, "CPU")
    x = _x(c.input(0).shape, 1)
    req = c.create_infer_request()
    out = {}
    req.set_input_tensor(lib.Tensor(x))
    req.infer()
    out["set_input"] = req.get_output_tensor().data.copy()
    req.set_tensor(c.input(0), lib.Tensor(2 * x))
    req.infer()
    out["set_by_port"] = req.get_output_tensor(0).data.copy()
    req.start_async({0: x})
    req.wait()
    out["async"] = req.results[c.output(0)]
    out["wait_for"] = req.wait_for(10)
    out["bound_input"] = req.get_input_tensor().data.copy()  # the last inputs given are the request's
    out["model_inputs"] = [p.get_any_name() for p in req.model_inputs]
    into = lib.Tensor(np.zeros(tuple(c.output(0).shape), np.float32), shared_memory=True)
    req.set_output_tensor(into)
    req.infer({0: 3 * x})
    out["into_output"] = into.data.copy()
    req.infer()  # no inputs: the bound ones again
    out["rerun"] = req.get_output_tensor().data.copy()
    return out


def queue(lib, xml):
    c = lib.Core().compile_model(xml, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
    xs = [_x(c.input(0).shape, i) for i in range(7)]
    q = lib.AsyncInferQueue(c, 3)
    got = {}
    q.set_callback(lambda req, ud: got.__setitem__(ud, req.get_output_tensor().data.copy()))
    for i, x in enumerate(xs):
        q.start_async({0: x}, i)
    q.wait_all()
    return {"n": len(q), "ready": q.is_ready(), "jobs": sorted(got), "values": np.stack([got[i] for i in range(7)]),
            "idle": q.get_idle_request_id() in range(3), "userdata": len(q.userdata),
            "iterates": len(list(q)), "request_userdata": [r.userdata for r in q]}


def tensor(lib, xml):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = lib.Tensor(a)
    shared = lib.Tensor(a, shared_memory=True)
    a[0, 0] = 42
    z = lib.Tensor(lib.Type.f32, [2, 3])
    z.shape = [3, 2]
    target = np.zeros((3, 4), np.float32)
    t.copy_to(lib.Tensor(target, shared_memory=True))
    grown = lib.Tensor(lib.Type.f32, [5])
    t.copy_to(grown)
    mismatch = lib.Tensor(lib.Type.i32, [3, 4])
    try:
        t.copy_to(mismatch)
        refused = False
    except Exception:  # noqa: BLE001 - each library's own error type
        refused = True
    return {"shape": list(t.shape), "size": t.size, "bytes": t.byte_size, "strides": list(t.get_strides()),
            "copied": float(t.data[0, 0]), "shared": float(shared.data[0, 0]), "reshaped": list(z.get_shape()),
            "dtype_ctor": lib.Tensor(np.dtype(np.int32), [2]).get_element_type().get_type_name(),
            "class_ctor": lib.Tensor(np.int64, [2]).get_element_type().get_type_name(),
            "copy_to": target, "grown": list(grown.shape), "grown_data": grown.data.copy(),
            "type_mismatch_refused": refused, "type_eq": t.element_type == lib.Type.f32}


def model(lib, xml):
    m = lib.Core().read_model(xml)
    out = {"name": m.get_friendly_name(), "inputs": len(m.inputs), "outputs": len(m.outputs),
           "params": len(m.get_parameters()), "results": len(m.get_results()), "dynamic": m.is_dynamic(),
           "ops": sorted({op.get_type_name() for op in m.get_ops()}), "ordered": len(m.get_ordered_ops()),
           "input_node": m.input(0).get_node().get_type_name(),
           "result_index": m.get_result_index(m.output(0)), "not_a_result": m.get_result_index(m.input(0)),
           "parameter_index": m.get_parameter_index(m.get_parameters()[0]),
           "result_type": m.get_result().get_type_name(), "output_op": m.get_output_op(0).get_type_name()}
    m.reshape({m.input(0).get_any_name(): [2, 1, 8, 8]})
    out["reshaped_in"], out["reshaped_out"] = list(m.input(0).shape), list(m.output(0).shape)
    m.reshape([-1, 1, 8, 8])
    out["made_dynamic"], out["pshape"] = m.is_dynamic(), str(m.input(0).partial_shape)
    return out


def preprocess(lib, xml):
    pp = importlib.import_module(lib.__name__ + ".preprocess")
    core = lib.Core()
    m = core.read_model(xml)
    p = pp.PrePostProcessor(m)
    p.input().tensor().set_element_type(lib.Type.u8).set_layout(lib.Layout("NHWC")).set_shape([1, 8, 8, 1])
    p.input().model().set_layout(lib.Layout("NCHW"))
    p.input().preprocess().convert_element_type(lib.Type.f32).mean(10.0).scale(255.0)
    p.output().tensor().set_element_type(lib.Type.f16)
    c = core.compile_model(p.build(), "CPU")
    x = np.random.default_rng(0).integers(0, 255, (1, 8, 8, 1), dtype=np.uint8)
    y = c(x)[0]
    return {"y": y.astype(np.float32), "dtype": str(y.dtype), "in_type": c.input(0).element_type.get_type_name(),
            "in_shape": list(c.input(0).shape)}


def properties(lib, xml):
    props = importlib.import_module(lib.__name__ + ".properties")
    hint = importlib.import_module(lib.__name__ + ".properties.hint")
    streams = importlib.import_module(lib.__name__ + ".properties.streams")
    core = lib.Core()
    c = core.compile_model(xml, "CPU", {hint.performance_mode: hint.PerformanceMode.THROUGHPUT,
                                        streams.num: streams.Num(2), props.enable_profiling: True})
    core.set_property("CPU", hint.performance_mode(hint.PerformanceMode.LATENCY))  # a (key, value) pair
    latency = core.compile_model(xml, "CPU")
    return {"keys": [str(hint.performance_mode), props.cache_dir(), str(props.enable_profiling)],
            "pair": hint.execution_mode(hint.ExecutionMode.ACCURACY)[0],
            "mode": str(c.get_property(hint.performance_mode)),
            "streams": int(c.get_property(streams.num)),
            "nireq": c.get_property(props.optimal_number_of_infer_requests),
            "profiling": str(c.get_property(props.enable_profiling)).upper() in ("YES", "TRUE"),  # OV: "YES"
            "set_property_pair": str(latency.get_property(hint.performance_mode)),
            "supported": "PERFORMANCE_HINT" in c.get_property(props.supported_properties),
            "full_name": isinstance(core.get_property("CPU", "FULL_DEVICE_NAME"), str),
            "devices": "CPU" in core.available_devices}


def save_and_export(lib, xml, tmp):
    core = lib.Core()
    path = os.path.join(tmp, lib.__name__ + ".xml")
    lib.save_model(core.read_model(xml), path, compress_to_fp16=False)
    c = core.compile_model(path, "CPU")
    x = _x(c.input(0).shape, 3)
    buf = io.BytesIO()
    c.export_model(buf)
    return {"saved": c(x)[0], "imported": core.import_model(c.export_model(), "CPU")(x)[0],
            "imported_stream": core.import_model(io.BytesIO(buf.getvalue()), "CPU")(x)[0]}


def stateful(lib, xml):
    ops = importlib.import_module("openvino.opset13" if lib.__name__ == "openvino" else "arrayrt.opset")
    util = importlib.import_module(lib.__name__ + ".op.util")
    x = ops.parameter([1, 2], np.float32, name="x")
    info = util.VariableInfo()
    info.data_shape, info.data_type, info.variable_id = lib.PartialShape([1, 2]), lib.Type.f32, "acc"
    var = util.Variable(info)
    rv = ops.read_value(ops.constant(np.zeros((1, 2), np.float32)), var)
    s = ops.add(rv, x)
    model = lib.Model([ops.result(s)], [ops.assign(s, var)], [x], "acc")
    c = lib.Core().compile_model(model, "CPU")
    one = np.ones((1, 2), np.float32)
    sums = [c(one)[0].copy() for _ in range(3)]  # the compiled model's own request keeps the state
    names = [v.name for v in c.query_state()]
    c.reset_state()
    return {"sums": np.stack(sums), "names": names, "after_reset": c(one)[0]}


def layouts(lib, xml):
    nchw = lib.Layout("NCHW")
    named = lib.Layout("[batch,seq,?]")
    tail = lib.Layout("...C")
    out = {"str": nchw.to_string(), "has": [nchw.has_name("C"), nchw.has_name("D")], "c": nchw.get_index_by_name("C"),
           "eq": nchw == lib.Layout("nchw"), "named": str(named), "named_has": named.has_name("seq"),
           "named_index": named.get_index_by_name("seq"), "tail_index": tail.get_index_by_name("C"),
           "head": str(lib.Layout("NC...")), "empty": str(lib.Layout()), "is_empty": [lib.Layout().empty, nchw.empty]}
    try:
        nchw.get_index_by_name("D")
        out["missing"] = "no error"
    except Exception:  # noqa: BLE001 - each library's own error type
        out["missing"] = "error"
    m = lib.Core().read_model(xml)
    try:
        lib.get_batch(m)
        out["no_layout"] = "no error"
    except Exception:  # noqa: BLE001
        out["no_layout"] = "error"
    param = m.get_parameters()[0]
    param.set_layout(lib.Layout("NCHW"))
    out["param_layout"] = str(param.get_layout())
    lh = lib.layout_helpers
    lh.set_layout(m.output(0), lib.Layout("NC"))
    out["helpers"] = [str(lh.get_layout(m.input(0))), str(lh.get_layout(m.output(0))), lh.height_idx(nchw),
                      lh.batch_idx(nchw), lh.has_depth(nchw), lh.has_channels(named), lh.channels_idx(tail)]
    lib.set_batch(m, 4)
    out["batched"] = [list(m.input(0).shape), list(m.output(0).shape), str(lib.get_batch(m))]
    lib.set_batch(m, -1)
    out["dynamic"] = [str(m.input(0).get_partial_shape()), str(lib.get_batch(m))]
    x = np.random.default_rng(5).random((3, 1, 8, 8), np.float32)
    out["runs"] = lib.Core().compile_model(m, "CPU")(x)[0]
    return out


def shapes(lib, xml):
    ps = lib.PartialShape("1,?,3..5")
    d = lib.Dimension(1, 5)
    s = lib.Shape([2, 3])
    return {"str": str(ps), "dynamic": ps.is_dynamic, "static": ps.is_static, "rank": ps.rank.get_length(),
            "min": list(ps.get_min_shape()), "max_last": list(ps.get_max_shape())[2], "pdims": [str(x) for x in ps],
            "dim": str(d), "dim_bounds": [d.get_min_length(), d.get_max_length(), d.is_dynamic],
            "dim_compatible": lib.Dimension(3).compatible(d), "any_dim": str(lib.Dimension()),
            "shape": [str(s), list(s), len(s), s == [2, 3], s == (2, 3), str(s[1:]), s.to_string()],
            "to_shape": str(lib.PartialShape([1, 2]).to_shape()), "from_shape": str(lib.PartialShape(s)),
            "tensor_shape": str(lib.Tensor(lib.Type.f32, [4, 1]).shape),
            "compatible": ps.compatible(lib.PartialShape([1, 7, 4])), "dynamic_rank": str(lib.PartialShape.dynamic()),
            "refines": lib.PartialShape([1, 2]).refines(lib.PartialShape([-1, 2])),
            "relaxes": lib.PartialShape([-1, 2]).relaxes(lib.PartialShape([1, 2]))}


def types(lib, xml):
    t = lib.Type
    return {"size": t.f32.size, "bitwidth": t.f16.bitwidth, "real": t.f32.is_real(), "integral": t.i8.is_integral(),
            "signed": t.u8.is_signed(), "name": t.bf16.get_type_name(), "to_dtype": t.f32.to_dtype() == np.float32,
            "from_numpy": t(np.float32) == t.f32, "dynamic": t.dynamic.is_dynamic()}


def profiling(lib, xml):
    c = lib.Core().compile_model(xml, "CPU", {"PERF_COUNT": True})
    r = c.create_infer_request()
    r.infer({0: _x(c.input(0).shape)})
    fields = ("node_name", "node_type", "exec_type", "status", "real_time", "cpu_time")
    return {"some": len(r.profiling_info) > 0, "fields": all(hasattr(i, f) for i in r.profiling_info for f in fields),
            "latency": r.latency > 0, "compiled": r.get_compiled_model().input(0).get_any_name()}


def request_by_name(lib, xml):
    c = lib.Core().compile_model(xml, "CPU")
    r = c.create_infer_request()
    name = c.input(0).get_any_name()
    x = _x(c.input(0).shape, 4)
    r.set_tensors({name: lib.Tensor(x)})
    r.infer()
    out = {"output": r.get_tensor(c.output(0).get_any_name()).data.copy(), "input": r.get_tensor(name).data.copy(),
           "counts": [len(r.input_tensors), len(r.output_tensors), len(r.model_outputs), len(list(r.results.keys()))]}
    res = r.infer({name: x})
    out["results"] = [[v.shape for v in res.values()], len(list(res.items())), len(res.to_dict())]
    return out


def model_edit(lib, xml):
    m = lib.Core().read_model(xml)
    relu = [o for o in m.get_ordered_ops() if o.get_type_name() == "Relu"][0]
    m.add_outputs(relu.output(0))
    m.set_rt_info("bar", "foo")
    m.set_rt_info("3", ["sec", "n"])
    c = lib.compile_model(m)
    return {"outputs": [len(m.outputs), len(c.outputs)], "by_name": m.input(m.input(0).get_any_name()).get_any_name(),
            "clone": len(m.clone().get_ops()) == len(m.get_ops()), "has_rt": [m.has_rt_info("foo"), m.has_rt_info("x")],
            "rt": [m.get_rt_info("foo") == "bar", m.get_rt_info("foo").astype(str), m.get_rt_info("foo").value,
                   m.get_rt_info(["sec", "n"]).astype(int)],
            "runtime_model": len(c.get_runtime_model().get_ops()) > 0, "relu": c(_x(c.input(0).shape, 2))[1]}


def onnx_inputs(lib, xml):
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    proto = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    path = os.path.join(os.path.dirname(xml), "relu.onnx")
    onnx.save(proto, path)
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    core = lib.Core()
    return {"read": core.compile_model(core.read_model(path), "CPU")(x)[0], "path": core.compile_model(path)(x)[0],
            "convert": lib.compile_model(lib.convert_model(path))(x)[0],
            "bytes": core.compile_model(core.read_model(proto.SerializeToString()), "CPU")(x)[0]}


def core_properties(lib, xml, tmp):
    core = lib.Core()
    core.set_property({"CACHE_DIR": tmp})
    x = _x([1, 1, 8, 8])
    again = lib.Core()
    again.set_property({"CACHE_DIR": tmp})
    return {"first": core.compile_model(xml, "CPU")(x)[0], "second": again.compile_model(xml, "CPU")(x)[0],
            "cache_dir": core.get_property("CACHE_DIR") == tmp, "devices": "CPU" in core.get_available_devices(),
            "versions": "CPU" in core.get_versions("CPU"),
            "streams_range": len(core.get_property("CPU", "RANGE_FOR_STREAMS")),
            "capabilities": isinstance(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"), list),
            "version": isinstance(lib.get_version(), str)}


def write_in_place(lib, xml):
    c = lib.Core().compile_model(xml, "CPU")
    r = c.create_infer_request()
    t = r.get_input_tensor()
    t.data[:] = _x(c.input(0).shape, 7)
    r.infer()
    a = r.get_output_tensor().data.copy()
    r.get_tensor(c.input(0)).data[:] = 0
    r.infer()
    return {"a": a, "zero": r.get_output_tensor().data.copy(), "names": sorted(c.inputs[0].names),
            "out_names": sorted(c.outputs[0].get_names()), "in_type": str(t.element_type.get_type_name())}


def reshape_forms(lib, xml):
    core = lib.Core()
    out = {}
    m = core.read_model(xml)
    m.reshape({m.input(0): lib.PartialShape([3, 1, 8, 8])})
    out["by_port"] = list(m.output(0).shape)
    m = core.read_model(xml)
    m.reshape({0: [2, 1, 8, 8]})
    out["by_index"] = list(m.output(0).shape)
    m = core.read_model(xml)
    m.reshape("?,1,8,8")
    out["by_str"] = str(m.output(0).partial_shape)
    m = core.read_model(xml)
    m.reshape([lib.Dimension(1, 4), 1, 8, 8])
    out["dim"] = str(m.input(0).partial_shape)
    c = core.compile_model(m, "CPU")
    out["run"] = c(_x([3, 1, 8, 8], 1))[0]
    return out


def dtypes(lib, xml):
    out = {}
    for dt in (np.uint8, np.int8, np.int32, np.int64, np.float16, np.float64, np.bool_):
        t = lib.Tensor(np.zeros((2, 2), dt))
        out[np.dtype(dt).name] = t.element_type.get_type_name()
    t = lib.Tensor(lib.Type.f16, [2])
    out["f16_data"] = str(t.data.dtype)
    t = lib.Tensor(np.array([1.5, 2.5], np.float32), shared_memory=True)
    out["shared_flag"] = float(t.data[1])
    return out


def queue_errors(lib, xml):
    c = lib.Core().compile_model(xml, "CPU")
    q = lib.AsyncInferQueue(c, 2)
    try:
        q.start_async({0: np.zeros((2, 2), np.float32)})
        q.wait_all()
        res = "no error"
    except Exception:  # noqa: BLE001 - each library's own error type
        res = "error"
    return {"bad_input": res, "ready_after": q.is_ready()}


def infer_new(lib, xml):
    c = lib.Core().compile_model(xml, "CPU")
    x = _x(c.input(0).shape, 9)
    r = c.create_infer_request()
    res = r.infer(x)
    return {"single_array": res[0], "list": r.infer([x])[0], "tensor": r.infer(lib.Tensor(x))[0],
            "dict_name": r.infer({c.input(0).get_any_name(): x})[0], "dict_port": r.infer({c.input(0): x})[0],
            "call": c.create_infer_request().infer({0: x})[c.output(0)]}


def query(lib, xml):
    core = lib.Core()
    m = core.read_model(xml)
    q = core.query_model(m, "CPU")
    c = core.compile_model(m, "AUTO:CPU")
    return {"all_cpu": set(q.values()) == {"CPU"}, "covers": len(q) >= len(m.get_ops()),
            "exec": c.get_property("EXECUTION_DEVICES"), "out": c(_x([1, 1, 8, 8]))[0]}


def node_api(lib, xml):
    m = lib.Core().read_model(xml)
    conv = [o for o in m.get_ordered_ops() if o.get_type_name() == "Convolution"][0]
    param = m.get_parameters()[0]
    return {"sizes": [conv.get_input_size(), conv.get_output_size(), len(conv.inputs()), len(conv.outputs())],
            "attrs": sorted(conv.get_attributes()), "strides": list(conv.get_attributes()["strides"]),
            "ports": [str(conv.get_input_partial_shape(0)), str(conv.get_output_partial_shape(0)),
                      list(conv.get_output_shape(0)), conv.get_output_element_type(0).get_type_name()],
            "sources": [conv.input_value(0).get_node().get_type_name(),
                        conv.input(0).get_source_output().get_node().get_type_name()],
            "type_info": [conv.get_type_info().name, conv.get_type_info().version_id],
            "model_ports": [m.get_output_element_type(0).get_type_name(), list(m.get_output_shape(0)),
                            str(m.get_output_partial_shape(0)), m.get_output_size()],
            "parameter": [str(param.get_partial_shape()), param.get_element_type().get_type_name()]}


def build(lib, xml):
    ops = importlib.import_module("openvino.opset13" if lib.__name__ == "openvino" else "arrayrt.opset")
    a = ops.parameter([2, 3], lib.Type.f32, name="a")
    y = ops.multiply(ops.add(a, ops.constant(np.ones((2, 3), np.float32))), ops.constant(np.float32(2)))
    y.set_friendly_name("y")
    m = lib.Model(y, [a], "built")
    m.validate_nodes_and_infer_types()
    s = ops.softmax(ops.matmul(a, ops.constant(np.ones((3, 4), np.float32)), False, False), 1)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = {"y": lib.compile_model(m)(x)[0], "s": lib.compile_model(lib.Model([s], [a]))(x)[0],
           "name": m.get_friendly_name(), "ps": str(m.output(0).get_partial_shape()),
           "out_node": m.get_results()[0].input_value(0).get_node().get_friendly_name()}
    a.set_partial_shape(lib.PartialShape([-1, 3]))
    m.validate_nodes_and_infer_types()
    out["reshaped"] = str(m.output(0).get_partial_shape())
    return out


def callbacks(lib, xml):
    """A request keeps start_async's userdata only when it has a callback, which then receives it."""
    c = lib.Core().compile_model(xml, "CPU")
    x = _x([1, 1, 8, 8])
    out = {}
    for with_callback in (False, True):
        for userdata in (None, "job"):
            r = c.create_infer_request()
            seen = []
            if with_callback:
                r.set_callback(seen.append, "from set_callback")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                r.start_async({0: x}, userdata=userdata)
            r.wait()
            r.start_async({0: x})
            r.wait()
            warned = any(issubclass(w.category, RuntimeWarning) for w in caught)
            out[f"{with_callback}-{userdata}"] = [r.userdata, seen, warned]
    out["result"] = r.get_output_tensor().data.copy()
    return out


SCENARIOS = [basic, request, queue, tensor, model, preprocess, properties, save_and_export, stateful, layouts, shapes,
             types, profiling, request_by_name, model_edit, onnx_inputs, core_properties, write_in_place, reshape_forms,
             dtypes, queue_errors, infer_new, query, node_api, build, callbacks]
WITH_TMP = (save_and_export, core_properties)


def _same(a, b, path=""):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-5, err_msg=path)
    elif isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    else:
        assert a == b, f"{path}: openvino {a!r}, arrayrt {b!r}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_openvino_user_code_runs_unchanged(scenario, xml, tmp_path):
    args = (xml, str(tmp_path)) if scenario in WITH_TMP else (xml,)
    _same(scenario(ov, *args), scenario(arrayrt, *args))
