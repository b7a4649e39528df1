import pytest

from coexplore.config import ConfigError
from coexplore.platforms.fpga_pipeline.parts import (
    PARTS,
    get_part,
    part_from_dict,
    register_part_file,
)
from coexplore.registry import UnknownNameError

DATASHEET = {  # docs/fpga-model.md#parts: DSP, BRAM18K, LUT
    "XC7A50T": (120, 150, 32_600),
    "XC7Z020": (220, 280, 53_200),
    "XC7Z045": (900, 1_090, 218_600),
    "XCZU3EG": (360, 432, 70_560),
    "XCZU9EG": (2_520, 1_824, 274_080),
    "XC7VX485T": (2_800, 2_060, 303_600),
}


@pytest.mark.parametrize("name", sorted(DATASHEET))
def test_catalogue_matches_datasheets_and_cites_every_value(name):
    part = get_part(name)
    assert (part.dsp, part.bram18k, part.lut) == DATASHEET[name]
    numeric = {
        "dsp",
        "bram18k",
        "lut",
        "clock_mhz",
        "dram_gbps",
        "link_gbps",
        "static_w",
        "dsp_mw",
        "bram_mw",
        "dram_pj_per_bit",
    }
    assert set(part.sources) == numeric
    assert all(part.sources[k].strip() for k in numeric)
    # resources come from datasheets, never estimates
    assert not {"dsp", "bram18k", "lut"} & set(part.estimates())


def test_dram_bits_per_cycle():
    # VC707: 12.8 GB/s at 100 MHz = 12.8e9 * 8 / 1e8 = 1024 bits per cycle
    assert get_part("XC7VX485T").dram_bits_per_cycle == 1024
    # PYNQ-Z1: 2.1 GB/s at 100 MHz = 168 bits per cycle
    assert get_part("XC7Z020").dram_bits_per_cycle == 168


def test_unknown_part_lists_the_known_ones():
    with pytest.raises(UnknownNameError) as err:
        get_part("XC9000")
    assert "XC7Z020" in str(err.value) and "XCZU9EG" in str(err.value)


def _user_part(**override):
    data = dict(get_part("XC7Z020").to_dict())
    data.pop("dram_bits_per_cycle")
    data.update(name="MYPART", **override)
    return data


def test_user_part_file(tmp_path):
    import yaml

    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(_user_part(dsp=64)))
    try:
        part = register_part_file(path)
        assert get_part("MYPART") is part and part.dsp == 64
    finally:
        PARTS._items.pop("MYPART", None)


@pytest.mark.parametrize(
    ("override", "field"),
    [({"dsp": -1}, "dsp"), ({"dsp": 1.5}, "dsp"), ({"clock_mhz": "fast"}, "clock_mhz")],
)
def test_bad_part_values_name_the_field(override, field):
    with pytest.raises(ConfigError) as err:
        part_from_dict(_user_part(**override), "mine.yaml")
    assert err.value.field == field


def test_every_value_needs_a_source():
    data = _user_part()
    data["sources"] = {k: v for k, v in data["sources"].items() if k != "link_gbps"}
    with pytest.raises(ConfigError) as err:
        part_from_dict(data, "mine.yaml")
    assert err.value.field == "sources.link_gbps"
    data = _user_part()
    del data["lut"]
    with pytest.raises(ConfigError, match="lut"):
        part_from_dict(data, "mine.yaml")
