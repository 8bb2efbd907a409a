"""Content keys: one key per video whatever the URL's form and spelling; short codes kept exactly."""

import contextlib

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from kanal.content import MAX_VIDEO_ID, case_id_for, content_key

VIDEO = "tiktok:video:7334567890123456789"
ID = "7318301234567890123"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.tiktok.com/@relawan.digital/video/7334567890123456789",
        "https://WWW.TikTok.com/@relawan.digital/video/7334567890123456789/",
        "https://m.tiktok.com/@relawan.digital/video/7334567890123456789?is_from_webapp=1&lang=id",
        "https://tiktok.com/@other.name/video/7334567890123456789#comments",
        "https://m.tiktok.com/v/7334567890123456789.html",
        "https://www.tiktok.com/v/7334567890123456789.html?u_code=abc",
    ],
)
def test_every_spelling_of_a_video_gives_one_key(url: str) -> None:
    assert content_key(url) == VIDEO


@pytest.mark.parametrize(
    "url",
    [
        f"https://www.tiktok.com/@a/video/%37{ID[1:]}",  # escape of an unreserved character
        f"https://www.tiktok.com/@a/video/%37%33%31%38{ID[4:]}",
        f"https://www.tiktok.com/%40a/vid%65o/{ID}",  # "@" and keyword letters escaped
        f"https://www.tiktok.com/@a/VIDEO/{ID}",
        f"https://www.tiktok.com/@a/Video/{ID}/",
        f"https://www.tiktok.com//@a/video/{ID}",
        f"https://www.tiktok.com/@a//video///{ID}//",
        f"https://www.tiktok.com/@a/video/{ID};x",
        f"https://www.tiktok.com/@a;p=1/video;v/{ID};x=%2F?lang=id",
        f"https://www.tiktok.com/@a/video/00{ID}",
        f"https://www.tiktok.com/@a/video/%30%30{ID}",
        f"https://www.tiktok.com/@a/x/../video/./{ID}",
        f"https://www.tiktok.com/@a/photo/{ID}",
        f"https://www.tiktok.com/@a/PHOTO/{ID}?is_from_webapp=1",
        f"https://www.tiktok.com/embed/v2/{ID}",
        f"https://www.tiktok.com/embed/v2/{ID}?lang=id-ID&referrer=https%3A%2F%2Fexample.org",
        f"https://www.tiktok.com/embed/{ID}",
        f"https://www.tiktok.com/Embed/V2/{ID}/",
        f"https://www.tiktok.com/player/v1/{ID}?autoplay=1&loop=1",
        f"https://www.tiktok.com/player/v1/{ID}",
        f"https://m.tiktok.com/v/{ID}.html",
        f"https://m.tiktok.com/V/00{ID}.HTML;x?u_code=1",
        f"https://tiktok.com/v/{ID}%2Ehtml",
    ],
)
def test_every_form_and_spelling_of_a_video_url_gives_its_key(url: str) -> None:
    assert content_key(url) == f"tiktok:video:{ID}"


def test_ids_are_64_bit_without_leading_zeros() -> None:
    assert content_key(f"https://tiktok.com/@a/video/{MAX_VIDEO_ID}") == f"tiktok:video:{MAX_VIDEO_ID}"
    assert content_key(f"https://tiktok.com/@a/video/{'0' * 2000}1") == "tiktok:video:1"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("https://www.tiktok.com/@a/video/000", "zero"),
        ("https://www.tiktok.com/embed/v2/0", "zero"),
        (f"https://www.tiktok.com/@a/video/{MAX_VIDEO_ID + 1}", "64-bit"),
        (f"https://www.tiktok.com/@a/video/{'9' * 2000}", "64-bit"),
        ("https://www.tiktok.com/@a/video/\u0667\u0663\u0661\u0668", "digits 0-9"),  # Arabic-Indic
        ("https://www.tiktok.com/@a/video/\uff17\uff13\uff11\uff18", "digits 0-9"),  # fullwidth
        ("https://www.tiktok.com/@a/video/7\u0663\u0661\u0668", "digits 0-9"),
        ("https://www.tiktok.com/@a/video/%D9%A7%D9%A3", "digits 0-9"),  # Arabic-Indic, encoded
        ("https://www.tiktok.com/v/\u0667\u0663.html", "digits 0-9"),
        ("https://www.tiktok.com/@a/video/73%2F18", "digits 0-9"),  # an encoded slash is no delimiter
        ("https://www.tiktok.com/@a/video/73%3B18", "digits 0-9"),  # nor is an encoded ";"
        ("https://www.tiktok.com/@a/video/7318abc", "digits 0-9"),
        ("https://www.tiktok.com/@a/video/-7318", "digits 0-9"),
        ("https://www.tiktok.com/@a/video/%2B7318", "digits 0-9"),
        ("https://www.tiktok.com/@a/video/7%zz", "digits 0-9"),
        ("https://www.tiktok.com/v/.html", "digits 0-9"),
        ("https://www.tiktok.com/embed/v2", "digits 0-9"),
        ("https://www.tiktok.com/t/", "no code"),
        ("https://tiktok.com/T;x/?a=1", "no code"),
    ],
)
def test_refuses_a_video_url_without_a_video_id(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        content_key(url)


def test_short_links_stay_as_given_without_query() -> None:
    assert content_key("https://vt.tiktok.com/ZSabc123/?k=1") == "https://vt.tiktok.com/ZSabc123"
    assert content_key("https://vm.tiktok.com/ZSabc123") != content_key("https://vm.tiktok.com/zsabc123")


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://vt.tiktok.com/ZSabc123/", "https://vt.tiktok.com/ZSabc123"),
        ("https://VM.TikTok.com/ZSabc123#x", "https://vm.tiktok.com/ZSabc123"),
        ("https://vt.tiktok.com/%5A%53abc123", "https://vt.tiktok.com/ZSabc123"),
        ("https://vt.tiktok.com//ZSabc123;x", "https://vt.tiktok.com/ZSabc123"),
        ("https://www.tiktok.com/t/ZTRabc12/", "https://tiktok.com/t/ZTRabc12"),
        ("https://tiktok.com/t/ZTRabc12?_r=1&_t=8", "https://tiktok.com/t/ZTRabc12"),
        ("https://m.tiktok.com/T/ZTRabc12", "https://tiktok.com/t/ZTRabc12"),
        ("https://www.tiktok.com/t/ztrabc12", "https://tiktok.com/t/ztrabc12"),
        ("https://www.tiktok.com/t/ZT%2fx", "https://tiktok.com/t/ZT%2Fx"),  # kept encoded, hex upper-cased
    ],
)
def test_short_codes_keep_their_case(url: str, key: str) -> None:
    assert content_key(url) == key


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://www.tiktok.com/@Relawan.Digital/?lang=id", "https://tiktok.com/@relawan.digital"),
        ("https://www.tiktok.com//@Relawan.Digital//live;x", "https://tiktok.com/@relawan.digital/live"),
        ("https://www.tiktok.com/tag/%50emilu2024", "https://tiktok.com/tag/pemilu2024"),
        ("https://www.tiktok.com/@a%2Fb", "https://tiktok.com/@a%2fb"),  # not /@a/b: no segment from %2F
        ("https://www.tiktok.com/@a%2Fvideo%2F7318", "https://tiktok.com/@a%2fvideo%2f7318"),  # no video either
        ("https://www.tiktok.com/tag/a%3Bb;c", "https://tiktok.com/tag/a%3bb"),  # an encoded ";" is no parameter
        ("https://www.tiktok.com/tag/%E2%9c%93%21", "https://tiktok.com/tag/%e2%9c%93%21"),  # reserved: kept encoded
        ("https://www.tiktok.com/@a/video", "https://tiktok.com/@a/video"),
        ("https://www.tiktok.com/@a/video/7318/extra", "https://tiktok.com/@a/video/7318/extra"),
        ("https://www.tiktok.com/t/ZT/extra", "https://tiktok.com/t/zt/extra"),
        ("https://www.tiktok.com/", "https://tiktok.com"),
    ],
)
def test_other_pages_are_normalized(url: str, key: str) -> None:
    assert content_key(url) == key


# Keys (and so case ids) of URLs that already had one key per video must not change: these are the forms in
# this file, events/*.json, bench/ and the README, with the keys the previous content_key gave them.
@pytest.mark.parametrize(
    ("url", "key"),
    [
        (f"https://www.tiktok.com/@akun.contoh/video/{ID}", f"tiktok:video:{ID}"),
        (f"https://www.tiktok.com/@akun.contoh/video/{ID}?lang=id-ID#comments", f"tiktok:video:{ID}"),
        (f"https://tiktok.com/@akun/video/{ID}/", f"tiktok:video:{ID}"),
        (f"https://m.tiktok.com/v/{ID}.html?lang=id", f"tiktok:video:{ID}"),
        ("https://vt.tiktok.com/ZSabc123", "https://vt.tiktok.com/ZSabc123"),
        ("https://vm.tiktok.com/zsabc123", "https://vm.tiktok.com/zsabc123"),
        ("https://www.tiktok.com/t/zsabc/", "https://tiktok.com/t/zsabc"),
        ("https://www.tiktok.com/@Relawan/live", "https://tiktok.com/@relawan/live"),
        ("https://www.tiktok.com", "https://tiktok.com"),
    ],
)
def test_keys_of_urls_that_were_right_are_unchanged(url: str, key: str) -> None:
    assert content_key(url) == key


def test_case_ids_of_keys_are_unchanged() -> None:
    assert case_id_for(f"tiktok:video:{ID}") == "c_rgxnhqe46t3bmr624xe7mmoncb"
    assert case_id_for("https://vt.tiktok.com/ZSabc123") == "c_x5ayjm534ebi46fnekfaxhgjeu"
    assert case_id_for("https://tiktok.com/@relawan.digital") == "c_jjdm675jyps7kisgmd3uejr6t6"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://www.tiktok.com/@a/video/1", "https"),
        ("https://www.youtube.com/watch?v=1", "TikTok host"),
        ("https://tiktok.com.evil.example/@a/video/1", "TikTok host"),
        ("https://user:pw@www.tiktok.com/@a/video/1", "credentials"),
        ("https://vt.tiktok.com/", "no code"),
        ("https://vt.tiktok.com/;x//", "no code"),
        ("https://www.tiktok.com:8443/@a/video/1", "port"),
    ],
)
def test_refuses_what_is_not_tiktok(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        content_key(url)


# Property tests over every spelling: a URL built from an id, then spelled any way that still names the video.

# Characters a path segment may hold as they are (besides escapes): none of them delimits a segment or a parameter.
SEGMENT_CHARS = st.characters(codec="utf-8", exclude_characters="/;?#%\t\r\n", exclude_categories=["Cs", "Cc"])


def _mixed_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(text, flips, strict=True))


def _escaped(draw: st.DrawFn, text: str) -> str:
    """``text`` with any of its characters percent-encoded (UTF-8, either hex case)."""
    out = []
    for char in text:
        if draw(st.booleans()):
            hexes = [f"{byte:02X}" for byte in char.encode()]
            out.append("".join("%" + _mixed_case(draw, h) for h in hexes))
        else:
            out.append(char)
    return "".join(out)


@st.composite
def video_urls(draw: st.DrawFn, video: str) -> str:
    """Any URL naming the video ``video``: host case, m./www./bare, any @user, any form of the path, keyword case,
    escapes of any path characters, doubled slashes, dot segments, ;params, leading zeros, trailing slash, query
    and fragment."""
    host = _mixed_case(draw, draw(st.sampled_from(["tiktok.com", "www.tiktok.com", "m.tiktok.com"])))
    video = "0" * draw(st.integers(0, 5)) + video
    user = "@" + draw(st.text(SEGMENT_CHARS, max_size=24))
    kind = draw(st.sampled_from(["video", "photo"]))
    form = draw(
        st.sampled_from(
            [
                [user, kind, video],
                ["v", video + ".html"],
                ["embed", video],
                ["embed", "v2", video],
                ["player", "v1", video],
            ]
        )
    )
    segments = []
    for segment in form:
        segment = _escaped(draw, _mixed_case(draw, segment))
        if draw(st.booleans()):
            segment += ";" + draw(st.text(st.characters(codec="utf-8", exclude_characters="/?#\t\r\n"), max_size=8))
        segments.append(segment)
        segments.extend(draw(st.lists(st.sampled_from([".", "%2e", "x/..", "%2E;y"]), max_size=2)))
    slashes = st.integers(1, 3).map(lambda n: "/" * n)
    path = "".join(draw(slashes) + segment for segment in segments) + draw(st.sampled_from(["", "/", "//"]))
    query = draw(st.sampled_from(["", "?", "?lang=id", "?is_from_webapp=1&sender_device=pc", "?u=/@b/video/1"]))
    fragment = draw(st.sampled_from(["", "#", "#comments", "#/@b/video/1"]))
    return f"https://{host}{path}{query}{fragment}"


ids = st.integers(min_value=1, max_value=MAX_VIDEO_ID).map(str)


@given(ids.flatmap(lambda video: st.tuples(st.just(video), video_urls(video))))
def test_property_every_url_naming_a_video_gives_its_key(case: tuple[str, str]) -> None:
    video, url = case
    assert content_key(url) == f"tiktok:video:{video}"


@given(
    ids.flatmap(lambda a: st.tuples(st.just(a), video_urls(a))),
    ids.flatmap(lambda b: st.tuples(st.just(b), video_urls(b))),
)
def test_property_distinct_videos_never_share_a_key_or_case(a: tuple[str, str], b: tuple[str, str]) -> None:
    (id_a, url_a), (id_b, url_b) = a, b
    key_a, key_b = content_key(url_a), content_key(url_b)
    assert (key_a == key_b) == (id_a == id_b)
    assert (case_id_for(key_a) == case_id_for(key_b)) == (id_a == id_b)


SHORT_LINKS = [
    "https://vt.tiktok.com/{}",
    "https://vm.tiktok.com/{}",
    "https://www.tiktok.com/t/{}",
    "https://tiktok.com/t/{}",
    "https://m.tiktok.com/t/{}",
]
codes = st.from_regex(r"[A-Za-z0-9_-]{0,11}[A-Za-z][A-Za-z0-9_-]{0,11}", fullmatch=True)


@given(st.sampled_from(SHORT_LINKS), codes, st.data())
def test_property_short_codes_differing_in_case_are_different_links(link: str, code: str, data: st.DataObject) -> None:
    other = _mixed_case(data.draw, code)
    assume(other != code)
    assert content_key(link.format(code)) != content_key(link.format(other))


@given(st.sampled_from(SHORT_LINKS), codes, st.data())
def test_property_a_short_code_is_kept_exactly(link: str, code: str, data: st.DataObject) -> None:
    spelled = _escaped(data.draw, code) + data.draw(st.sampled_from(["", "/", "?_r=1&_t=8", "/#x", ";p"]))
    assert content_key(link.format(spelled)) == content_key(link.format(code))
    assert content_key(link.format(code)).endswith("/" + code)


non_ascii_digit = st.characters(categories=["Nd"]).filter(lambda c: not c.isascii())
ascii_digit = st.sampled_from("0123456789")


@given(
    st.lists(non_ascii_digit | ascii_digit, min_size=1, max_size=25).filter(lambda d: not "".join(d).isascii()),
    st.data(),
)
def test_property_non_ascii_digits_are_no_video_id(digits: list[str], data: st.DataObject) -> None:
    """Video ids are ASCII: \\d and str.isdigit() would take any script's digits (and int() would read them)."""
    spelled = "".join(digits)
    url = data.draw(video_urls(spelled))
    with pytest.raises(ValueError, match="digits 0-9"):
        content_key(url)


# Pieces an attacker would repeat to make a backtracking pattern explode; every one is cheap here.
DELIMITERS = ["/", "//", "%", "%3", "%37", "%2F", ";", ";;/", "/.", "/..", "@", "%E2%9C%93"]
ADVERSARIAL = [*DELIMITERS, "@a/video/", "0", "7", "\u0667", "/v/", ".html", "/embed/v2", "/t/", "a", "\u00e9"]


@pytest.mark.timeout(60)  # a hang guard, not a timing: every key takes microseconds; a backtracking pattern hangs
@settings(deadline=None)
@given(
    st.lists(st.sampled_from(ADVERSARIAL), max_size=40).flatmap(
        lambda pieces: st.integers(1, 2000 // max(1, sum(map(len, pieces)))).map(lambda n: "".join(pieces) * n)
    ),
    st.sampled_from(["https://www.tiktok.com/", "https://vt.tiktok.com/", "https://tiktok.com/@a/video/"]),
)
def test_property_any_path_of_up_to_2_kb_is_keyed_or_refused(path: str, prefix: str) -> None:
    """Any path of repeated delimiters gets a key or a ValueError; pytest-timeout fails a pattern that hangs."""
    with contextlib.suppress(ValueError):
        assert content_key(prefix + path)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("piece", ADVERSARIAL)
def test_a_64_kb_path_of_one_piece_is_keyed_or_refused(piece: str) -> None:
    """A quadratic or exponential pattern would take minutes on 64 KB; the timeout turns that into a failure."""
    url = "https://www.tiktok.com/@a/video/" + piece * (65536 // len(piece))
    with contextlib.suppress(ValueError):
        assert content_key(url)
