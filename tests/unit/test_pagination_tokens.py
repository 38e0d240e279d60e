"""The continue token: what we write comes back; a key that would leave its prefix is refused."""
import pytest

from minikube_py.apiserver import errors, pagination


@pytest.mark.parametrize("start", ["ns/name\x00", "a..b/c", "x"])
def test_a_token_we_wrote_comes_back(start):
    assert pagination.decode(pagination.encode(start, 7)) == pagination.Continue(start, 7)
    assert pagination.decode(pagination.encode(start, -1)).revision == 0      # inconsistent: now


@pytest.mark.parametrize("start", ["../x", "a/../b", "/a", "..", "a/.."])
def test_a_start_key_that_climbs_out_of_its_prefix_is_400(start):
    with pytest.raises(errors.APIError) as err:
        pagination.decode(pagination.encode(start, 7))
    assert err.value.code == 400 and err.value.message.startswith("continue key is not valid")
