"""A camera is named as photo managers name it: the make once."""

from __future__ import annotations

from photos_testutil import exiftool_tags, samples_dir

from geoscope_core.photos.metadata import camera_name, read_metadata


def test_a_camera_is_named_once_when_its_model_repeats_the_make() -> None:
    assert camera_name("Canon", "Canon EOS 40D", "123") == "Canon EOS 40D 123"
    assert camera_name("NIKON CORPORATION", "NIKON D7000") == "NIKON D7000"
    assert camera_name("Apple", "iPhone 12") == "Apple iPhone 12"
    assert camera_name("", "E-M5") == "E-M5" and camera_name("FUJIFILM", "") == "FUJIFILM"


def test_real_camera_files_name_their_camera_by_exiftools_make_and_model() -> None:
    expected = {
        "Canon_40D.jpg": ("Canon", "Canon EOS 40D", "Canon EOS 40D"),
        "Nikon_D70.jpg": ("NIKON CORPORATION", "NIKON D70", "NIKON D70"),
        "Fujifilm_FinePix_E500.jpg": ("FUJIFILM", "FinePix E500", "FUJIFILM FinePix E500"),
    }
    for name, (make, model, camera) in expected.items():
        path = samples_dir() / "jpg" / name
        assert exiftool_tags(path, "-Make", "-Model") == {"Make": make, "Model": model}
        assert read_metadata(path).camera.startswith(camera), name
