from minikube_py.cli.printers import TabWriter


def test_tabwriter_aligns_blocks_like_go():
    tw = TabWriter(minwidth=0, padding=2)
    tw.write("Name:\tweb\nLabels:\tapp=web\n\tx=y\nPod Template:\n  Image:\tnginx\n")
    assert tw.getvalue() == ("Name:    web\nLabels:  app=web\n         x=y\nPod Template:\n"
                             "  Image:  nginx\n")
