# escape=`
FROM mcr.microsoft.com/windows/servercore:ltsc2022
SHELL ["powershell", "-Command"]
WORKDIR C:\app
COPY requirements.txt C:\app\
RUN pip install `
    --no-cache-dir `
    -r requirements.txt
COPY . C:\app
CMD ["python", "C:\\app\\main.py"]
