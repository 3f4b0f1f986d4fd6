"""Chinese for the verification reports (:mod:`covo_port.verify.lang`): each English template
-> its Chinese, with the same placeholders. Terms follow the reference port's report (a
Chinese document): 组件, 阶段, 耗时, 指标, 值, 最大绝对误差, Token 完全匹配率, Ascend 兼容性..."""

ZH: dict[str, str] = {
    # verdicts, headings, stage titles
    "PASS": "通过",
    "FAIL": "失败",
    "Environment": "环境",
    "Stages": "验证阶段",
    "Emulation": "模拟",
    "Changes the port made": "主要修改点",
    "Operator compatibility per component": "各组件算子兼容性",
    "Memory": "内存",
    "Known issues": "已知问题",
    "Findings from apply that still need a human": "apply 留给人工处理的发现",
    "Residual scan": "残留 CUDA 扫描",
    "Import": "导入",
    "Rewrite equivalence": "改写等价性",
    "Inference": "推理",
    "Determinism": "可复现性",
    # the heading paragraph
    "**{verdict}**: {passed}/{total} stages passed. OUT `{out}` (target {target}, ported from "
    "`{source}`), device {device}, mode `{mode}`, {model}, at most {tokens} new tokens per round. "
    "Run {started} by covo-port {version}, in {seconds:.0f} s.":
    "**{verdict}**: {passed}/{total} 个阶段通过。OUT `{out}`(目标 {target},移植自 `{source}`),"
    "设备 {device},模式 `{mode}`,{model},每轮最多生成 {tokens} 个新 token。"
    "covo-port {version} 于 {started} 运行,耗时 {seconds:.0f} 秒。",
    "{device} (emulated on the CPU)": "{device}(在 CPU 上模拟)",
    "the tiny random model built with OUT's classes": "用 OUT 的类构建的小型随机模型",
    "the checkpoint in `{dir}`": "`{dir}` 中的模型权重",
    ", of a tiny random model": ",且为小型随机模型的耗时",
    "The NPU is emulated on the CPU: tensors sent to the `npu` device compute on the CPU, and "
    "every operator is checked against torch_npu's own support table (API and dtype), so that "
    "what Ascend cannot run fails here with its name and line. It is an emulation for catching "
    "incompatibilities, not a performance model: the timings below are CPU timings{model}.":
    "NPU 在 CPU 上模拟:发往 `npu` 设备的张量在 CPU 上计算,每个算子都按 torch_npu 自身的支持表"
    "(API 与 dtype)检查,昇腾无法运行的部分会在此报错并给出名称和行号。这是用于发现不兼容之处的"
    "模拟,不是性能模型:下文的耗时均为 CPU 耗时{model}。",
    # tables' columns and cells
    "component": "组件",
    "version": "版本",
    "not present": "未安装",
    "(not collected)": "(未收集)",
    "stage 2 did not report it": "阶段 2 未报告",
    "stage": "阶段",
    "result": "结果",
    "time": "耗时",
    "figures": "数据",
    "measure": "指标",
    "value": "值",
    "note": "说明",
    "where": "位置",
    "rule": "规则",
    "left over": "残留",
    "token scan": "token 扫描",
    "module": "模块",
    "ok": "成功",
    "source line": "源码行",
    "severity": "级别",
    "message": "信息",
    "info": "提示",
    "warning": "警告",
    "error": "错误",
    "None.": "无。",
    "- stage {number} ({title}) failed: {error}": "- 阶段 {number}({title})失败:{error}",
    "Failure: {error}": "失败原因:{error}",
    # stage 1
    "{files} files checked with every rule, {python} Python files token-scanned: {pending} "
    "rewrite(s) pending, {tokens} CUDA token(s) in code":
    "用全部规则检查了 {files} 个文件,对 {python} 个 Python 文件做了 token 扫描:"
    "{pending} 处改写待完成,代码中有 {tokens} 个 CUDA token",
    "covo-port's rules re-run in check mode over OUT ({files} files), and the code of its "
    "{python} Python files scanned for CUDA identifiers and CUDA device strings (comments and "
    "other strings excluded): {pending} rewrite(s) pending, {tokens} CUDA token(s); {review} "
    "finding(s) for review (listed at the end).":
    "以检查模式在 OUT 上重新运行 covo-port 的规则({files} 个文件),并扫描其 {python} 个 Python "
    "文件的代码中的 CUDA 标识符和 CUDA 设备字符串(不含注释和其他字符串):{pending} 处改写待完成,"
    "{tokens} 个 CUDA token;{review} 条发现待人工审阅(列于文末)。",
    # stage 2
    "{ok}/{total} modules of covoaudio, token2wav imported in a fresh interpreter":
    "covoaudio、token2wav 的 {ok}/{total} 个模块在新的解释器中导入成功",
    "Every module of OUT's `covoaudio` and `token2wav` packages, imported one by one in a fresh "
    "interpreter with OUT as its working directory:":
    "OUT 的 `covoaudio` 和 `token2wav` 包的每个模块,以 OUT 为工作目录在新的解释器中逐一导入:",
    # stage 3
    "{reference} vs {other}: max abs {error:.3e}, cosine {cosine:.7f}":
    "{reference} 对比 {other}:最大绝对误差 {error:.3e},余弦相似度 {cosine:.7f}",
    "no comparison computed": "未计算任何对比",
    "Log-Mel spectrogram ({bands} bands) of `{audio}` resampled to 16 kHz, computed by each "
    "tree's own `log_mel_spectrogram` (the source tree's is the unported one). Mean relative "
    "error: mean of |a-b| / (|a| + 1e-8).":
    "`{audio}` 重采样到 16 kHz 后的 log-Mel 频谱图({bands} 个频带),由各代码树自己的 "
    "`log_mel_spectrogram` 计算(源代码树的为未移植版本)。平均相对误差:|a-b| / (|a| + 1e-8) "
    "的平均值。",
    "comparison": "对比",
    "max abs error": "最大绝对误差",
    "mean abs error": "平均绝对误差",
    "mean relative error": "平均相对误差",
    "cosine similarity": "余弦相似度",
    "within bf16 tolerance (< {tolerance})": "在 bf16 容差内的元素比例(< {tolerance})",
    # stage 4
    "round {round}: {tokens} tokens": "Round {round}:{tokens} 个 token",
    ", {seconds:.2f} s of audio": ",{seconds:.2f} 秒音频",
    "no round completed": "没有完成任何一轮",
    "Model: tiny random Covo-Audio in `{dir}`, not built.":
    "模型:`{dir}` 中的小型随机 Covo-Audio,未构建。",
    "Model: tiny random Covo-Audio ({parameters} parameters, Qwen2 {hidden} x {layers} layers, "
    "Whisper {d_model} x {encoder_layers}, vocabulary {vocab}) in `{dir}` ({build}).":
    "模型:`{dir}` 中的小型随机 Covo-Audio({parameters} 个参数,Qwen2 {hidden} x {layers} 层,"
    "Whisper {d_model} x {encoder_layers},词表 {vocab})({build})。",
    "Model: `{dir}`.": "模型:`{dir}`。",
    "cached": "取自缓存",
    "built in {seconds:.1f} s": "构建耗时 {seconds:.1f} 秒",
    "not built": "未构建",
    "Weights: {tensors} tensors from {shards} shard(s); {never} parameter(s) never loaded, "
    "{unexpected} unexpected tensor(s).":
    "权重:从 {shards} 个分片加载了 {tensors} 个张量;{never} 个参数未加载,"
    "{unexpected} 个多余张量。",
    "round": "轮次",
    "input": "输入",
    "new tokens": "新 token 数",
    "tokens/s": "token/秒",
    "text tokens": "文本 token",
    "speech tokens": "语音 token",
    "decoded text": "解码文本",
    "audio": "音频",
    "{seconds:.2f} s at {rate} Hz, {finite}, peak {peak:.3f}, rms {rms:.3f}":
    "{seconds:.2f} 秒,{rate} Hz,{finite},峰值 {peak:.3f},均方根 {rms:.3f}",
    "finite": "数值有限",
    "NOT finite": "含非有限值",
    "Timings:": "性能数据:",
    " ({tokens} tokens, {rate} tokens/s)": "({tokens} 个 token,{rate} token/秒)",
    "model initialisation (`AutoModel.from_config` + `.to(device)`)":
    "模型初始化(`AutoModel.from_config` + `.to(device)`)",
    "weight loading ({shards} safetensors shard(s), `load_state_dict(strict=False)`)":
    "权重加载({shards} 个 safetensors 分片,`load_state_dict(strict=False)`)",
    "token2wav initialisation (`init_model`)": "token2wav 初始化(`init_model`)",
    "generation, round 0": "Round 0 生成",
    "generation, round 1": "Round 1 生成",
    "audio decode, round 0": "Round 0 音频解码",
    "audio decode, round 1": "Round 1 音频解码",
    "determinism run 1": "可复现性第 1 次运行",
    "determinism run 2": "可复现性第 2 次运行",
    # stage 5
    "{matched}/{total} tokens identical ({rate:.0f}%), {same}":
    "{matched}/{total} 个 token 一致({rate:.0f}%),{same}",
    "identical text": "文本完全一致",
    "different text": "文本不一致",
    "Two runs on the same device, same input (round 0's), greedy (do_sample=False), "
    "repetition_penalty {penalty}, {limit} tokens compared ({runs}):":
    "在同一设备上,使用相同输入(Round 0 的输入)和相同参数(贪心解码 do_sample=False,"
    "repetition_penalty={penalty})连续运行两次推理,比较 {limit} 个 token({runs}):",
    " and ": " 与 ",
    "two runs": "两次运行",
    "token match rate": "Token 完全匹配率",
    "{rate:.1f}% ({matched}/{total} tokens)": "{rate:.1f}% ({matched}/{total} tokens)",
    "The decoded texts of the two runs:": "两次推理生成的文本:",
    "run": "运行",
    # emulation
    "{count} distinct operators passed the emulation's check during inference ({calls} calls), "
    "the most used: {top}.":
    "推理期间有 {count} 种算子通过了模拟检查(共 {calls} 次调用),最常用的:{top}。",
    "Let through with a dtype that torch_npu's support table does not list for the API (worth "
    "a check on real hardware):":
    "以下调用所用的 dtype 未列在 torch_npu 支持表中,模拟予以放行(值得在真实硬件上确认):",
    "API (dtype)": "API(dtype)",
    "calls": "调用次数",
    # changes
    "None: apply changed nothing.": "无:apply 未做任何修改。",
    "{count} change(s) by {rules} rule(s) in {files} file(s), from OUT's manifest "
    "(`.covo-port/manifest.json`); {unsafe} of them unsafe fixes applied on request.":
    "{rules} 条规则在 {files} 个文件中做了 {count} 处修改(取自 OUT 的清单 "
    "`.covo-port/manifest.json`);其中 {unsafe} 处是应要求应用的不安全修复。",
    "what it changes": "修改内容",
    "changes": "修改数",
    "files": "文件",
    "change": "修改",
    " (unsafe fix, applied on request)": "(不安全修复,应要求应用)",
    # operators per component
    "Nothing recorded: stage 4 did not reach the NPU.": "无记录:阶段 4 未运行到 NPU。",
    "Every PyTorch API that reached the NPU during inference and the determinism runs, per "
    "component of the model (found from the call stack), with the dtypes of its tensors; the "
    "emulation checks each against torch_npu's support table.":
    "推理和可复现性运行期间到达 NPU 的每个 PyTorch API,按模型组件(由调用栈确定)列出,"
    "附其张量的 dtype;模拟按 torch_npu 支持表逐一检查。",
    "Ascend compatibility": "Ascend 兼容性",
    "{apis} API(s), {calls} call(s), dtypes {dtypes}: {names}":
    "{apis} 个 API,{calls} 次调用,dtype {dtypes}:{names}",
    "; dtype not in torch_npu's table: {items}": ";dtype 不在 torch_npu 支持表中:{items}",
    "; refused: {items}": ";被拒绝:{items}",
    "✅ compatible": "✅ 兼容",
    "⚠️ check on hardware": "⚠️ 需在硬件上确认",
    "❌ not supported": "❌ 不支持",
    "✅ ran on the device": "✅ 已在设备上运行",
    "audio front end (resampling, log-Mel)": "音频前端(重采样、log-Mel)",
    "Whisper audio encoder": "Whisper 音频编码器",
    "audio adapter": "音频适配器",
    "Covo-Audio model code (embeddings, audio placement)": "Covo-Audio 模型代码(嵌入、音频位置)",
    "LLM (Qwen2)": "LLM(Qwen2)",
    "generation loop (transformers generate)": "生成循环(transformers generate)",
    "token2wav flow model (token2latent)": "token2wav 流模型(token2latent)",
    "token2wav vocoder": "token2wav 声码器",
    "token2wav decoder (other)": "token2wav 解码器(其他)",
    "model initialisation and weight loading": "模型初始化与权重加载",
    "other": "其他",
    # memory
    "Not measured: stage 4 did not run.": "未测量:阶段 4 未运行。",
    "not measured": "未测量",
    "n/a on the CPU emulation: the emulated NPU's tensors are host memory, counted in the "
    "figure above":
    "CPU 模拟下不适用:模拟 NPU 的张量位于主机内存,已计入上一项",
    "n/a: no NPU in this run": "不适用:本次运行未使用 NPU",
    "Measured in the inference process (stages 4 and 5): its peak resident set size "
    "(`getrusage`), and on an Ascend device `torch.npu.max_memory_allocated`.":
    "在推理进程(阶段 4 和 5)中测量:其常驻内存峰值(`getrusage`),在昇腾设备上还有 "
    "`torch.npu.max_memory_allocated`。",
    "peak resident memory of the inference process (host)": "推理进程的常驻内存峰值(主机)",
    "peak NPU memory (`torch.npu.max_memory_allocated`)":
    "NPU 显存峰值(`torch.npu.max_memory_allocated`)",
    "Peaks so far at the end of each step:": "各步骤结束时的累计峰值:",
    "step": "步骤",
    "peak resident memory": "常驻内存峰值",
    "peak NPU memory": "NPU 显存峰值",
    # known issues
    "None met.": "未遇到。",
    "stage {number} ({title}) failed: {error}": "阶段 {number}({title})失败:{error}",
    "{api} on {dtypes} is not supported on Ascend ({where}, {component}): {reason}":
    "昇腾不支持 {dtypes} 上的 {api}({where},{component}):{reason}",
    "{api} ran {calls} time(s) with a dtype that torch_npu's support table does not list: "
    "worth a check on real hardware":
    "{api} 以 torch_npu 支持表未列出的 dtype 运行了 {calls} 次:值得在真实硬件上确认",
    "{api} called at {where} ({count} time(s)){raised}":
    "{api} 在 {where} 被调用({count} 次){raised}",
    ", and it raised": ",并抛出了异常",
    "{api} at {where} is not modelled by the emulation ({count} call(s))":
    "{where} 处的 {api} 未被模拟({count} 次调用)",
    "{count} finding(s) of apply left for a human ({severities}), listed at the end":
    "apply 有 {count} 条发现留给人工处理({severities}),列于文末",
    "{count} unsafe fix(es) proposed by apply and not applied (`apply --unsafe-fixes` applies "
    "them)":
    "apply 提出了 {count} 处不安全修复但未应用(`apply --unsafe-fixes` 会应用它们)",
    "The model is a tiny random one built with OUT's classes: its texts are not language, and "
    "its timings and memory are not the checkpoint's (`--model-dir` runs the real one)":
    "模型是用 OUT 的类构建的小型随机模型:其文本不是自然语言,耗时和内存也不代表真实权重"
    "(`--model-dir` 运行真实模型)",
    "The NPU is emulated on the CPU: timings are CPU timings and NPU memory is not measured; "
    "only a run on an Ascend device gives them":
    "NPU 在 CPU 上模拟:耗时为 CPU 耗时,NPU 显存未测量;只有在昇腾设备上运行才能得到这些数据",
}
