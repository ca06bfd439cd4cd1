"""The ctypes mirrors in reconpatch/_structs.py have exactly the C layout: sizes, offsets and field
sizes as the C compiler lays them out (struct_layout.c), and the field names of the headers in
header order."""
import ctypes
import json
import os
import re
import subprocess

import pytest

from conftest import SOURCE_DIR
from reconpatch import _structs

HEADERS = os.path.join(SOURCE_DIR, "include", "reconpatch")


def header_structs():
    """{struct name: [field names in order]} of every `typedef struct rp_x { ... } rp_x;`."""
    structs = {}
    for name in sorted(os.listdir(HEADERS)):
        text = open(os.path.join(HEADERS, name)).read()
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        text = re.sub(r"//[^\n]*", "", text)
        for m in re.finditer(r"typedef\s+struct\s+(rp_\w+)\s*\{(.*?)\}\s*\1\s*;", text, flags=re.S):
            fields = []
            for decl in m.group(2).split(";"):
                decl = decl.replace("*", " ").strip()
                if not decl:
                    continue
                first, *rest = [part.strip() for part in decl.split(",")]
                fields.append(first.split()[-1])
                fields.extend(r.split()[-1] for r in rest)
            structs[m.group(1)] = fields
    return structs


@pytest.fixture(scope="module")
def c_layout():
    exe = os.environ.get("RP_STRUCT_LAYOUT")
    if not exe:
        pytest.skip("RP_STRUCT_LAYOUT (the struct_layout program) not set: run through meson test")
    return json.loads(subprocess.run([exe], check=True, capture_output=True, text=True).stdout)


PY_STRUCTS = {cls._c_name_: cls for cls in _structs.ALL}


def test_struct_layout__every_header_struct_is_mirrored_in_python():
    assert sorted(header_structs()) == sorted(PY_STRUCTS)


def test_struct_layout__python_fields_follow_the_header_order():
    for name, fields in header_structs().items():
        assert [f for f, _ in PY_STRUCTS[name]._fields_] == fields, name


def test_struct_layout__c_program_lists_every_header_field(c_layout):
    for name, fields in header_structs().items():
        assert name in c_layout, name
        assert list(c_layout[name]["fields"]) == fields, name


def test_struct_layout__sizes_and_offsets_match_the_c_compiler(c_layout):
    for name, c in c_layout.items():
        cls = PY_STRUCTS[name]
        assert ctypes.sizeof(cls) == c["size"], name
        for field, (offset, size) in c["fields"].items():
            descr = getattr(cls, field)
            assert (descr.offset, descr.size) == (offset, size), "%s.%s" % (name, field)


def test_struct_layout__params_init_accepts_the_python_size():
    # The library's own size check: a struct larger than it knows would fail with RP_E_VERSION.
    import reconpatch._lib as L
    for cls, init in [(_structs.ImageLoadParams, "rp_image_load_params_init"),
                      (_structs.ExtractorParams, "rp_extractor_params_init"),
                      (_structs.BankParams, "rp_bank_params_init"),
                      (_structs.ScorerParams, "rp_scorer_params_init"),
                      (_structs.TrainerParams, "rp_trainer_params_init"),
                      (_structs.TrainParams, "rp_train_params_init"),
                      (_structs.CalibrationParams, "rp_calibration_params_init"),
                      (_structs.ModelSaveParams, "rp_model_save_params_init"),
                      (_structs.ModelLoadParams, "rp_model_load_params_init")]:
        if not L.has(init):
            continue  # a library older than the headers (checked by the layout tests above)
        p = cls()
        assert getattr(L.lib, init)(ctypes.byref(p), ctypes.sizeof(p)) == 0
        assert p.struct_size == ctypes.sizeof(cls)
