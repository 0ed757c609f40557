"""Golden messages: directions and areas in words, and the difference picture."""

from __future__ import annotations

from factories import blob

from pytest_xai.goldens.describe import area, direction


def test_directions_and_areas_in_words() -> None:
    assert direction(10, 0, 64, 64) == "to the right"
    assert direction(-10, -10, 64, 64) == "towards the top-left corner"
    assert direction(0, 10, 64, 64) == "downwards"
    assert direction(0.5, 0.5, 64, 64).startswith("a negligible move")
    assert area(5, 5, 64, 64) == "top left"
    assert area(32, 32, 64, 64) == "centre"
    assert area(60, 32, 64, 64) == "right side"
    assert area(32, 63.9, 64, 64) == "bottom"


def test_the_difference_picture_shows_gained_red_and_lost_blue() -> None:
    from pytest_xai.goldens.previews import difference_picture

    golden, new = blob(0, 0, size=8), blob(40, 40, size=8)
    new.heatmap[0:8, 0:8] = 0.01  # a little evidence stays where it was
    picture = difference_picture(golden, new).astype(int)
    gained, lost = picture[44, 44], picture[4, 4]
    assert gained[0] - gained[2] > 150  # evidence appeared: full red, however weak it is
    assert lost[2] - lost[0] > 150  # evidence went away: blue


def test_a_changed_input_image_is_said_first() -> None:
    from pytest_xai.engine.provenance import array_sha256
    from pytest_xai.goldens.describe import determinism_note

    before, after = blob(10, 10), blob(40, 40)
    before.meta["image_sha256"] = array_sha256(before.image)
    after.meta["image_sha256"] = array_sha256(after.image)
    assert "input image" not in determinism_note(before, after)  # one image: nothing to say
    after.image[0, 0] = 1.0
    after.meta.pop("image_sha256")  # read from the image itself when the new one recorded no hash
    note = determinism_note(before, after)
    assert note.startswith(f"the input image changed since the golden was made (sha256 {before.meta['image_sha256'][:12]}")
    assert "CPU results are bit-exact" in note  # the environment note follows
    unhashed = blob(10, 10)  # a golden without an image hash: nothing claimed
    assert "input image" not in determinism_note(unhashed, after)
