# torch 2.13.0+cpu wrote the .bin files here (python make_fixtures.py in this folder); PytorchRealFileTest reads them.
# Writes the real torch.save fixtures of PytorchRealFileTest (run with torch installed; values are aranges).
import torch, collections
torch.manual_seed(0)
base = torch.arange(12, dtype=torch.float32)
d = {
    'f32': torch.arange(6, dtype=torch.float32).reshape(2, 3),
    'f16': torch.arange(300, dtype=torch.float16),
    'bf16': torch.arange(8, dtype=torch.bfloat16).reshape(2, 2, 2),
    'i64': torch.arange(5, dtype=torch.int64) - 2,
    'scalar': torch.tensor(7.5),
    'shared.all': base,
    'shared.view': base[4:10].view(2, 3),
    'rank4': torch.arange(16, dtype=torch.float32).reshape(1, 2, 2, 4),
}
torch.save(d, 'torch-dict.bin')
lin = torch.nn.Linear(4, 3)
with torch.no_grad():
    lin.weight.copy_(torch.arange(12, dtype=torch.float32).reshape(3, 4))
    lin.bias.copy_(torch.arange(3, dtype=torch.float32))
torch.save(lin.state_dict(), 'torch-state-dict.bin')
torch.save({'t': torch.arange(6, dtype=torch.float32).reshape(2, 3).t()}, 'torch-transposed.bin')
torch.save({'w': torch.arange(4, dtype=torch.float32)}, 'torch-legacy.bin', _use_new_zipfile_serialization=False)
print(torch.__version__)
