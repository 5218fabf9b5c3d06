"""Start a kernel through jupyter_client, exactly as a Jupyter server would,
and run one cell. Used by hpc-kernels after install, by `check`, and by the
validation harness. Prints one line `HPCK_RESULT <json>`; exit 0 iff status ok."""
import json
import sys


def main():
    name, timeout, imports = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    result = {"kernel": name, "status": "error", "stdout": "", "error": ""}
    try:
        from jupyter_client.manager import KernelManager
    except Exception as exc:  # noqa: BLE001 - reported to the caller
        result["error"] = f"cannot import jupyter_client: {exc!r}"
        return result
    code = (
        "import importlib, os, sys\n"
        f"for _m in {json.dumps(imports)}:\n"
        "    importlib.import_module(_m)\n"
        "print('sys.prefix=' + sys.prefix)\n"
        "print('LOADEDMODULES=' + os.environ.get('LOADEDMODULES', ''))\n"
    )
    km = KernelManager(kernel_name=name)
    kc = None
    try:
        km.start_kernel()
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=timeout)
        msg_id = kc.execute(code)
        out = []
        while True:
            msg = kc.get_iopub_msg(timeout=timeout)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content.get("text", ""))
            elif kind == "error":
                result["error"] = "\n".join(content.get("traceback", [])) or content.get("evalue", "")
            elif kind == "status" and content.get("execution_state") == "idle":
                break
        while True:
            reply = kc.get_shell_msg(timeout=timeout)
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                break
        result["status"] = reply["content"]["status"]
        result["stdout"] = "".join(out)
        if result["status"] != "ok" and not result["error"]:
            result["error"] = reply["content"].get("evalue", "")
    except Exception as exc:  # noqa: BLE001 - reported to the caller
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if kc is not None:
            kc.stop_channels()
        try:
            km.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001 - the kernel may never have started
            pass
    return result


if __name__ == "__main__":
    res = main()
    print("HPCK_RESULT " + json.dumps(res), flush=True)
    sys.exit(0 if res["status"] == "ok" else 1)
